/**
 * One reconciliation pass: payments stuck in pending or processing past the
 * thresholds are confirmed with the provider through the same settle path as
 * verify; those the provider still has unpaid after the abandonment age are
 * failed. Refunds stuck in flight are asked about again (sent, if the
 * provider never got them; applied, if it finished them). Expired
 * idempotency records are purged in the same pass.
 *
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { Refunds } from "./refund_payment.ts";
import type { DatabaseEvent, DatabaseEventOutcome } from "./handle_database_event.ts";
import type { ProviderEvent } from "./provider_event.ts";
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
  /** Refunds still in flight that were checked with the provider, and what became of them. */
  refunds: { examined: number; processed: number; failed: number; in_flight: number; errors: number };
  /** Success events left open (deferred behind the lock, or their handling died), handled again. */
  open_events: { examined: number; handled: number; errors: number };
  /** Staff refund requests no Database Webhook delivered, handled as a delivery would. */
  refund_requests: { examined: number; started: number; refused: number; errors: number };
  purged_idempotency_keys: number;
  /** Rows of check_ledger_invariants() after the pass: anything but 0 pages someone. */
  invariant_violations: number;
}

/** Dependencies of {@linkcode createReconcilePayments}. */
export interface ReconcileDeps {
  store: PaymentStore;
  settle: (input: SettleInput) => Promise<SettleResult>;
  refunds: Pick<Refunds, "advanceRefund">;
  /** Handles a stored provider event again, as its delivery would (see handle_provider_event.ts). */
  handleEvent: (event: ProviderEvent) => Promise<unknown>;
  /** Handles one refund_requests row as its Database Webhook would (see handle_database_event.ts). */
  handleDatabaseEvent: (event: DatabaseEvent) => Promise<DatabaseEventOutcome>;
  logger: Logger;
  metrics: Metrics;
  thresholds: {
    pendingAfterSeconds: number;
    processingAfterSeconds: number;
    abandonAfterHours: number;
    batchSize: number;
    /** Refunds not sent (or whose answer was lost) are re-checked after this long. @default 300 */
    refundPendingAfterSeconds?: number;
    /** Refunds the provider has not finished are re-checked after this long. @default 900 */
    refundInFlightAfterSeconds?: number;
  };
  /** Payments settled at once. @default 4 */
  concurrency?: number;
}

/** Builds the use case. */
export function createReconcilePayments(
  { store, settle, refunds, handleEvent, handleDatabaseEvent, logger, metrics, thresholds, concurrency = 4 }:
    ReconcileDeps,
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
      refunds: { examined: 0, processed: 0, failed: 0, in_flight: 0, errors: 0 },
      open_events: { examined: 0, handled: 0, errors: 0 },
      refund_requests: { examined: 0, started: 0, refused: 0, errors: 0 },
      purged_idempotency_keys: 0,
      invariant_violations: 0,
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
          else if (result.kind === "not_found") summary.unchanged++; // gone meanwhile: nothing to settle
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
    const openEvents = await store.openSuccessEvents({
      olderThanSeconds: thresholds.processingAfterSeconds,
      limit: thresholds.batchSize,
    });
    summary.open_events.examined = openEvents.length;
    for (const event of openEvents) {
      try {
        await handleEvent({ ...event, claim: "payment_succeeded", refundId: null });
        summary.open_events.handled++;
      } catch (error) {
        summary.open_events.errors++;
        logger.error("reconcile: open provider event not handled", { event_key: event.eventKey, error });
      }
    }
    // Requests first: a refund they start now is advanced below if it stalls.
    const requests = await store.refundRequestCandidates({
      olderThanSeconds: thresholds.refundPendingAfterSeconds ?? 300,
      limit: thresholds.batchSize,
    });
    summary.refund_requests.examined = requests.length;
    for (const record of requests) {
      try {
        const handled = await handleDatabaseEvent({
          type: "INSERT",
          table: "refund_requests",
          schema: "public",
          record,
          old_record: null,
        });
        if (handled.outcome === "refused") summary.refund_requests.refused++;
        else if (handled.outcome === "refund_started" || handled.outcome === "refund_replayed") {
          summary.refund_requests.started++;
        }
      } catch (error) {
        summary.refund_requests.errors++;
        logger.error("reconcile: refund request not handled", { refund_request_id: record.id, error });
      }
    }
    const stuckRefunds = await store.refundCandidates({
      pendingOlderThanSeconds: thresholds.refundPendingAfterSeconds ?? 300,
      inFlightOlderThanSeconds: thresholds.refundInFlightAfterSeconds ?? 900,
      limit: thresholds.batchSize,
    });
    summary.refunds.examined = stuckRefunds.length;
    for (const refund of stuckRefunds) {
      try {
        const advanced = await refunds.advanceRefund(refund, "reconcile");
        if (advanced.state === "processed") summary.refunds.processed++;
        else if (advanced.state === "failed") summary.refunds.failed++;
        else summary.refunds.in_flight++;
      } catch (error) {
        summary.refunds.errors++;
        logger.error("reconcile: refund not advanced", { refund_id: refund.id, error });
      }
    }
    summary.purged_idempotency_keys = await store.purgeIdempotencyKeys();
    // The money rules re-derived from scratch; the writers are built so this
    // is always empty. A row that persists across passes is a bug or
    // tampering (a payment being settled right now may show for a moment).
    const violations = await store.checkLedgerInvariants();
    summary.invariant_violations = violations.length;
    if (violations.length > 0) {
      metrics.inc("ledger_invariant_violations_total", {}, violations.length);
      logger.error("LEDGER INVARIANTS BROKEN", { violations: violations.slice(0, 20) });
    }
    logger.info("reconcile pass", { ...summary });
    return summary;
  };
}
