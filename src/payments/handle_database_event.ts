/**
 * Supabase Database Webhooks (`POST /v1/hooks/database`): staff insert a
 * `refund_requests` row in the dashboard, the database calls us, and the row
 * becomes a refund. The request's id is the refund's request key, so a
 * redelivered or concurrent hook finds the refund its first delivery made
 * (one refund, one debit); `begin_refund` marks the row in the same
 * transaction. A request that cannot become a refund (nothing left to
 * refund, credit spent, payment not completed or unknown) is marked failed
 * with the reason, where staff asked.
 *
 * @module
 */
import { AppError, type ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { Refund } from "./refund.ts";
import type { Refunds } from "./refund_payment.ts";
import { requestFingerprint } from "./request_fingerprint.ts";

/** A Database Webhook payload (validated by the HTTP layer). */
export interface DatabaseEvent {
  type: "INSERT" | "UPDATE" | "DELETE";
  table: string;
  schema: string;
  record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
}

/** A `refund_requests` row as the hook carries it (validated by the HTTP layer). */
export interface RefundRequestRecord {
  id: string;
  payment_reference: string;
  amount: number | null;
  reason: string;
  requested_by: string | null;
  status: string;
}

/** What the hook did. */
export type DatabaseEventOutcome =
  | { outcome: "refund_started" | "refund_replayed"; refund: Refund }
  | { outcome: "refused"; code: ErrorCode; detail: string }
  | { outcome: "already_handled" }
  | { outcome: "ignored" };

/**
 * Refusals a refund request can meet: recorded on its row, never retried. A
 * request that is no longer pending (refused or handled before) is
 * `validation_failed` here and its row is left as it is (already_handled).
 */
const REFUSALS: ReadonlySet<ErrorCode> = new Set([
  "refund_exceeds_payment",
  "insufficient_balance",
  "payment_not_refundable",
  "payment_not_found",
  "validation_failed",
]);

/** Dependencies of {@linkcode createHandleDatabaseEvent}. */
export interface DatabaseEventDeps {
  store: PaymentStore;
  refunds: Refunds;
  logger: Logger;
  /** Parses a `refund_requests` record, or throws a 400 `bad_request`. */
  parseRefundRequest: (record: unknown) => RefundRequestRecord;
}

/** Builds the use case. */
export function createHandleDatabaseEvent(
  { store, refunds, logger, parseRefundRequest }: DatabaseEventDeps,
): (event: DatabaseEvent) => Promise<DatabaseEventOutcome> {
  return async function handleDatabaseEvent(event) {
    if (event.schema !== "public" || event.table !== "refund_requests" || event.type !== "INSERT") {
      logger.info("database webhook ignored", { schema: event.schema, table: event.table, type: event.type });
      return { outcome: "ignored" };
    }
    const request = parseRefundRequest(event.record);
    const log = logger.child({ refund_request_id: request.id, reference: request.payment_reference });
    try {
      const { refund, replayed } = await refunds.refundPayment({
        reference: request.payment_reference,
        amount: request.amount,
        reason: request.reason,
        requestKey: `refund_request:${request.id}`,
        fingerprint: await requestFingerprint("INSERT", "refund_requests", {
          id: request.id,
          payment_reference: request.payment_reference,
          amount: request.amount,
          reason: request.reason,
        }),
        refundRequestId: request.id,
        actor: `staff:${request.requested_by ?? "dashboard"}`,
      });
      return { outcome: replayed ? "refund_replayed" : "refund_started", refund };
    } catch (error) {
      if (!(error instanceof AppError && REFUSALS.has(error.code))) throw error;
      const marked = await store.refuseRefundRequest(request.id, `${error.code}: ${error.message}`);
      log.warn("refund request refused", { code: error.code, detail: error.message, marked });
      return marked ? { outcome: "refused", code: error.code, detail: error.message } : { outcome: "already_handled" };
    }
  };
}
