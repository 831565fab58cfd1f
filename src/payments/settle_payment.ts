/**
 * The credit path as verify and reconciliation run it (DESIGN §6): under the
 * payment's lock, `mark_processing` with the fencing token, then confirm with
 * the provider and settle. The lock keeps concurrent instances from asking
 * the provider again and again; the database, fenced, keeps the money right.
 *
 * A failed payment is confirmed too unless it is settled (failed for a
 * mismatch): the provider may have taken the money after we gave up on it,
 * and paid means credited.
 *
 * @module
 */
import type { Payment, PaymentStore } from "./payment_store.ts";
import type { ConfirmInput, ConfirmResult } from "./confirm_with_provider.ts";
import type { RunUnderPaymentLock } from "./run_under_payment_lock.ts";

/** What settling did. */
export type SettleResult =
  | { kind: "done"; payment: Payment; outcome: ConfirmResult["outcome"] }
  /** Another holder has the payment's lock (or fenced us out): it will finish. */
  | { kind: "locked" }
  /** No such payment (or, with `ownerId`, not this user's). */
  | { kind: "not_found" };

/** Dependencies of {@linkcode createSettlePayment}. */
export interface SettleDeps {
  store: PaymentStore;
  runUnderLock: RunUnderPaymentLock;
  confirm: (input: ConfirmInput) => Promise<ConfirmResult>;
}

/** Arguments of one settlement. */
export interface SettleInput {
  reference: string;
  actor: string;
  /** Only this user's payment: a customer's verify (checked in the same RPC). */
  ownerId?: string | null;
  abandonAfterMs?: number | null;
  /**
   * The provider reference to confirm: one the provider reported for this
   * payment (any of its attempts, e.g. from its transaction listing).
   * @default the payment's current `provider_reference`
   */
  providerReference?: string;
}

/** Builds the settle step. */
export function createSettlePayment(
  { store, runUnderLock, confirm }: SettleDeps,
): (input: SettleInput) => Promise<SettleResult> {
  return async function settlePayment({ reference, actor, ownerId = null, abandonAfterMs = null, providerReference }) {
    const run = await runUnderLock(reference, actor, async (fence): Promise<SettleResult> => {
      const marked = await store.markProcessing(reference, { fence, actor, ownerId });
      if (marked === null) return { kind: "not_found" };
      if (marked.payment.settled) return { kind: "done", payment: marked.payment, outcome: "unchanged" };
      const confirmed = await confirm({
        payment: marked.payment,
        fence,
        actor,
        abandonAfterMs,
        ...(providerReference === undefined ? {} : { providerReference }),
      });
      return { kind: "done", ...confirmed };
    });
    return run.acquired ? run.value : { kind: "locked" };
  };
}
