/**
 * One reconciliation pass: payments stuck in pending or processing past the
 * thresholds are confirmed with the provider through the same settle path as
 * verify; those the provider still has unpaid after the abandonment age are
 * failed. Expired idempotency records are purged in the same pass.
 *
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { SettleInput, SettleResult } from "./settle_payment.ts";

/** What a pass did. */
export interface ReconcileSummary {
  examined: number;
  credited: number;
  failed: number;
  mismatched: number;
  unchanged: number;
  locked: number;
  errors: number;
  purged_idempotency_keys: number;
}

/** Dependencies of {@linkcode createReconcilePayments}. */
export interface ReconcileDeps {
  store: PaymentStore;
  settle: (input: SettleInput) => Promise<SettleResult>;
  logger: Logger;
  thresholds: {
    pendingAfterSeconds: number;
    processingAfterSeconds: number;
    abandonAfterHours: number;
    batchSize: number;
  };
  /** Payments settled at once. @default 4 */
  concurrency?: number;
}

/** Builds the use case. */
export function createReconcilePayments(
  { store, settle, logger, thresholds, concurrency = 4 }: ReconcileDeps,
): () => Promise<ReconcileSummary> {
  return async function reconcilePayments() {
    const candidates = await store.reconcileCandidates({
      pendingOlderThanSeconds: thresholds.pendingAfterSeconds,
      processingOlderThanSeconds: thresholds.processingAfterSeconds,
      limit: thresholds.batchSize,
    });
    const summary: ReconcileSummary = {
      examined: candidates.length,
      credited: 0,
      failed: 0,
      mismatched: 0,
      unchanged: 0,
      locked: 0,
      errors: 0,
      purged_idempotency_keys: 0,
    };
    const queue = [...candidates];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          const result = await settle({
            reference: next.reference,
            actor: "reconcile",
            abandonAfterMs: thresholds.abandonAfterHours * 3_600_000,
          });
          if (result.kind === "locked") summary.locked++;
          else if (result.outcome === "credited") summary.credited++;
          else if (result.outcome === "failed") summary.failed++;
          else if (result.outcome === "mismatch") summary.mismatched++;
          else summary.unchanged++;
        } catch (error) {
          summary.errors++;
          logger.error("reconcile: payment not settled", { reference: next.reference, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    summary.purged_idempotency_keys = await store.purgeIdempotencyKeys();
    logger.info("reconcile pass", { ...summary });
    return summary;
  };
}
