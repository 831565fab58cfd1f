/**
 * Work on one payment under its lock (DESIGN §6 step 1), shared by verify,
 * webhook and reconciliation: one place that takes the lock, hands the work
 * its fencing token, and turns the database's "stale fence" into "locked".
 *
 * A stale fence has two causes, and the first is why this file exists:
 *
 * 1. Redis lost the fence counter (a flushed or new database, an evicted key,
 *    a prefix change, an embedded-mode restart): every token it hands out is
 *    now below the `last_fence` payments already carry, and without repair
 *    they would never settle (paid means credited). So on the first refusal
 *    the counter is raised past the database's highest fence (`max_fence()`)
 *    and the work runs once more under a fresh lock and token.
 * 2. Our lease ran out while we were paused and a newer holder wrote first:
 *    the retry then finds the lock held (→ locked) or the payment settled.
 *
 * A second refusal in a row is answered "locked": another holder owns the
 * work, and reconciliation catches anything left.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { LockService } from "../lock/lock_service.ts";
import { withLock } from "../lock/with_lock.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PaymentStore } from "./payment_store.ts";

/** What a locked run did: the work's value, or nothing because another holder has the payment. */
export type LockedRun<T> = { acquired: true; value: T } | { acquired: false };

/** Dependencies of {@linkcode createRunUnderPaymentLock}. */
export interface RunUnderPaymentLockDeps {
  locks: LockService;
  store: Pick<PaymentStore, "maxFence">;
  logger: Logger;
  metrics: Metrics;
  lock: { leaseMs: number; waitMs: number };
}

/** Runs `work` under the lock of payment `reference`, with the holder's fence (null without Redis). */
export type RunUnderPaymentLock = <T>(
  reference: string,
  actor: string,
  work: (fence: number | null) => Promise<T>,
) => Promise<LockedRun<T>>;

/** The lock key of a payment (namespaced further by the lock service). */
export function paymentLockKey(reference: string): string {
  return `payment:${reference}`;
}

/** Builds the helper. */
export function createRunUnderPaymentLock(
  { locks, store, logger, metrics, lock }: RunUnderPaymentLockDeps,
): RunUnderPaymentLock {
  return async function runUnderPaymentLock<T>(
    reference: string,
    actor: string,
    work: (fence: number | null) => Promise<T>,
  ): Promise<LockedRun<T>> {
    for (let attempt = 1;; attempt++) {
      try {
        const run = await withLock(locks, paymentLockKey(reference), (handle) => {
          // No fence: the lock store was down and the work runs without the lock (SQL still guards the money).
          metrics.inc("lock_acquisitions_total", { actor, outcome: handle.fence === null ? "degraded" : "acquired" });
          return work(handle.fence);
        }, { leaseMs: lock.leaseMs, waitMs: lock.waitMs });
        if (!run.acquired) metrics.inc("lock_acquisitions_total", { actor, outcome: "contended" });
        return run.acquired ? { acquired: true, value: run.value } : { acquired: false };
      } catch (error) {
        if (!(error instanceof AppError && error.code === "stale_fence")) throw error;
        if (attempt > 1) {
          logger.warn("stale lock holder refused by the database", { reference, actor });
          return { acquired: false };
        }
        const floor = await store.maxFence();
        await locks.advanceFence(floor);
        metrics.inc("lock_fence_raised_total", { actor });
        logger.warn("fence refused as stale: counter raised past the database's highest fence, retrying once", {
          reference,
          actor,
          floor,
        });
      }
    }
  };
}
