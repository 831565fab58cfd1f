/**
 * The credit path as verify and reconciliation run it (DESIGN §6): under the
 * payment's lock, `mark_processing` with the fencing token, then confirm with
 * the provider and settle. The lock keeps concurrent instances from asking
 * the provider again and again; the database, fenced, keeps the money right.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { LockService } from "../lock/lock_service.ts";
import { withLock } from "../lock/with_lock.ts";
import type { Payment, PaymentStore } from "../store/payment_store.ts";
import type { ConfirmInput, ConfirmResult } from "./confirm_with_provider.ts";
import { isSettled } from "./payment_state.ts";

/** What settling did. */
export type SettleResult =
  | { kind: "done"; payment: Payment; outcome: ConfirmResult["outcome"] }
  /** Another holder has the payment's lock (or fenced us out): it will finish. */
  | { kind: "locked" };

/** Dependencies of {@linkcode createSettlePayment}. */
export interface SettleDeps {
  store: PaymentStore;
  locks: LockService;
  confirm: (input: ConfirmInput) => Promise<ConfirmResult>;
  logger: Logger;
  lock: { leaseMs: number; waitMs: number };
}

/** Arguments of one settlement. */
export interface SettleInput {
  reference: string;
  actor: string;
  abandonAfterMs?: number | null;
}

/** The lock key of a payment (namespaced further by the lock service). */
export function paymentLockKey(reference: string): string {
  return `payment:${reference}`;
}

/** Builds the settle step. */
export function createSettlePayment(
  { store, locks, confirm, logger, lock }: SettleDeps,
): (input: SettleInput) => Promise<SettleResult> {
  return async function settlePayment({ reference, actor, abandonAfterMs = null }) {
    try {
      const run = await withLock(locks, paymentLockKey(reference), async (handle) => {
        const marked = await store.markProcessing(reference, { fence: handle.fence, actor });
        if (isSettled(marked.payment.state)) {
          return { kind: "done", payment: marked.payment, outcome: "unchanged" } as const;
        }
        const confirmed = await confirm({ payment: marked.payment, fence: handle.fence, actor, abandonAfterMs });
        return { kind: "done", ...confirmed } as const;
      }, { leaseMs: lock.leaseMs, waitMs: lock.waitMs });
      return run.acquired ? run.value : { kind: "locked" };
    } catch (error) {
      if (error instanceof AppError && error.code === "stale_fence") {
        // Our lease ran out and a newer holder wrote first: it owns the work.
        logger.warn("stale lock holder refused by the database", { reference, actor });
        return { kind: "locked" };
      }
      throw error;
    }
  };
}
