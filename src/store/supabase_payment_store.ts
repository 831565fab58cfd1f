/**
 * The PaymentStore over Supabase: each method is one `.rpc()` call, i.e. one
 * SQL function running in one transaction (`docs/database.md`). No method
 * reads and then writes: every decision about money is taken inside SQL.
 *
 * Results are parsed with zod (`payment_schemas.ts`). Errors are mapped in
 * one place, {@linkcode rpcFailure}:
 * - a SQLSTATE of ours (`PMnnn`, `sql_states.ts`) becomes its
 *   domain {@linkcode AppError} (PM001 → `illegal_transition`, …);
 * - a network failure (supabase-js status 0), any 5xx, or a connection
 *   SQLSTATE (`08xxx`) becomes `database_unavailable` (503, retryable);
 * - anything else (a PostgREST error, a constraint we did not expect, PM007
 *   which only our own bug can raise, a result of the wrong shape) is a
 *   plain {@linkcode StoreError}, i.e. a 500: never the client's fault.
 *
 * @module
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { errorFromSqlState, isPaymentSqlState } from "./sql_states.ts";
import type { Cursor, PaymentStore, ProviderReconciliationCursor } from "../payments/payment_store.ts";
import {
  appliedRefundSchema,
  beginRefundResultSchema,
  beginResultSchema,
  candidatesSchema,
  changedPaymentSchema,
  creditResultSchema,
  debitResultSchema,
  fenceSchema,
  paymentPageSchema,
  paymentSchema,
  pingSchema,
  providerReferenceResolutionSchema,
  purgedCountSchema,
  reconciliationCursorSchema,
  refundClaimSchema,
  refundSchema,
  storedEventsSchema,
  storedResponseSchema,
  violationsSchema,
  walletSchema,
  webhookEventResultSchema,
} from "./payment_schemas.ts";

/** A store call failed in a way that is neither ours to explain nor the client's (→ 500). */
export class StoreError extends Error {
  /** The function called. */
  readonly fn: string;
  /** SQLSTATE or PostgREST code, when there is one. */
  readonly code: string | null;

  constructor(fn: string, code: string | null, message: string, options?: ErrorOptions) {
    super(`RPC ${fn} failed${code ? ` (${code})` : ""}: ${message}`, options);
    this.name = "StoreError";
    this.fn = fn;
    this.code = code;
  }
}

/** The error part of a supabase-js result (PostgREST's error body). */
export interface RpcErrorBody {
  code?: string | null;
  message?: string | null;
  details?: string | null;
  hint?: string | null;
}

const UNAVAILABLE_DETAIL = "The database is not reachable right now";

/**
 * Turns a failed `.rpc()` result into the error to throw.
 *
 * @param fn the SQL function called
 * @param error the error body supabase-js returned
 * @param status the HTTP status (0 when the request never got an answer)
 * @returns an {@linkcode AppError} for our SQLSTATEs and for an unreachable
 *   database, a {@linkcode StoreError} otherwise
 */
export function rpcFailure(fn: string, error: RpcErrorBody, status: number): Error {
  const code = error.code ?? "";
  const message = error.message ?? "unknown error";
  if (isPaymentSqlState(code)) {
    const mapped = errorFromSqlState(code, message);
    // PM007 maps to nothing on purpose: only a bug of ours can hit it.
    return mapped ?? new StoreError(fn, code, message, { cause: error });
  }
  // Only "could not reach it" is a 503: a 500 from a SQL bug must stay a 500
  // (and page someone), not look like a passing outage.
  const unreachable = status === 0 || status === 502 || status === 503 || status === 504;
  if (unreachable || code.startsWith("08") || code === "57P01" || code.startsWith("53")) {
    return new AppError("database_unavailable", { detail: UNAVAILABLE_DETAIL, cause: error });
  }
  return new StoreError(fn, code || null, message, { cause: error });
}

/**
 * Creates the store.
 *
 * @param client a supabase-js client holding the service-role key (the RPC
 *   functions are executable by `service_role` only)
 * @returns the PaymentStore
 *
 * @example
 * ```ts
 * const store = createSupabasePaymentStore(createClient(url, serviceRoleKey, { auth: { persistSession: false } }));
 * const payment = await store.getPayment(userId, "pay-1");
 * ```
 */
export function createSupabasePaymentStore(client: SupabaseClient): PaymentStore {
  async function rpc(fn: string, args: Record<string, unknown>): Promise<unknown> {
    let result;
    try {
      result = await client.rpc(fn, args);
    } catch (error) {
      // supabase-js reports network failures as status 0; a throw is the same thing.
      throw new AppError("database_unavailable", { detail: UNAVAILABLE_DETAIL, cause: error });
    }
    if (result.error) throw rpcFailure(fn, result.error, result.status);
    return result.data;
  }

  async function call<S extends z.ZodTypeAny>(fn: string, args: Record<string, unknown>, schema: S) {
    const data = await rpc(fn, args);
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StoreError(fn, null, `unexpected result: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`);
    }
    return parsed.data as z.output<S>;
  }

  const reconciliationCursor = (
    c: { provider: string; checked_until: string; updated_at: string },
  ): ProviderReconciliationCursor => ({ provider: c.provider, checkedUntil: c.checked_until, updatedAt: c.updated_at });

  const cursorArgs = (cursor: Cursor | null) => ({
    p_cursor_created_at: cursor?.created_at ?? null,
    p_cursor_id: cursor?.id ?? null,
  });

  return {
    async beginPaymentRequest(input) {
      const r = await call("begin_payment_request", {
        p_user_id: input.userId,
        p_idempotency_key: input.idempotencyKey,
        p_fingerprint: input.fingerprint,
        p_method: input.method,
        p_path: input.path,
        p_amount: input.amount,
        p_currency: input.currency,
        p_email: input.email,
        p_metadata: input.metadata,
        p_provider: input.provider,
        p_lock_timeout_seconds: input.lockTimeoutSeconds,
        p_retention_hours: input.retentionHours,
      }, beginResultSchema);
      switch (r.outcome) {
        case "created":
        case "resumed":
        case "not_payable":
          return { outcome: r.outcome, payment: r.payment };
        case "replay":
          return { outcome: "replay", status: r.status, body: r.body };
        case "in_progress":
          return { outcome: "in_progress", retryAfterSeconds: r.retry_after_seconds };
        case "mismatch":
          return { outcome: "mismatch" };
        default: {
          const unreachable: never = r;
          return unreachable;
        }
      }
    },

    async completePaymentRequest(input) {
      const stored = await call("complete_payment_request", {
        p_user_id: input.userId,
        p_idempotency_key: input.idempotencyKey,
        p_response_status: input.responseStatus,
        p_response_body: input.responseBody ?? null,
        p_authorization_url: input.authorizationUrl,
        p_access_code: input.accessCode,
        p_failure_reason: input.failureReason,
      }, storedResponseSchema);
      return { status: stored.status, body: stored.body };
    },

    async releasePaymentRequest(userId, idempotencyKey) {
      await rpc("release_payment_request", { p_user_id: userId, p_idempotency_key: idempotencyKey });
    },

    openProviderAttempt: (reference) => call("open_provider_attempt", { p_reference: reference }, paymentSchema),

    getPayment: (userId, reference) =>
      call("get_payment", { p_user_id: userId, p_reference: reference }, paymentSchema.nullable()),

    listPayments: (userId, limit, cursor) =>
      call("list_payments", { p_user_id: userId, p_limit: limit, ...cursorArgs(cursor) }, paymentPageSchema),

    markProcessing: (reference, { fence, actor, reason = null, ownerId = null }) =>
      call(
        "mark_processing",
        { p_reference: reference, p_fence: fence, p_actor: actor, p_reason: reason, p_user_id: ownerId },
        changedPaymentSchema.nullable(),
      ),

    creditUser: (input) =>
      call("credit_user", {
        p_reference: input.reference,
        p_amount: input.amount,
        p_currency: input.currency,
        p_provider_payload: input.providerPayload ?? null,
        p_fence: input.fence,
        p_actor: input.actor,
        p_reason: input.reason ?? null,
        p_webhook_event_id: input.webhookEventId ?? null,
      }, creditResultSchema),

    failPayment: (input) =>
      call("fail_payment", {
        p_reference: input.reference,
        p_reason: input.reason,
        p_provider_payload: input.providerPayload ?? null,
        p_fence: input.fence,
        p_actor: input.actor,
        p_webhook_event_id: input.webhookEventId ?? null,
      }, changedPaymentSchema),

    async recordWebhookEvent(input) {
      const r = await call("record_webhook_event", {
        p_provider: input.provider,
        p_event_key: input.eventKey,
        p_event_type: input.eventType,
        p_reference: input.reference,
        p_payload: input.payload ?? null,
        p_mark_processing: input.markProcessing,
        p_fence: input.fence,
      }, webhookEventResultSchema);
      return { eventId: r.event_id, duplicate: r.duplicate, processed: r.processed, payment: r.payment };
    },

    reconcileCandidates: (input) =>
      call("reconcile_candidates", {
        p_pending_older_than_seconds: input.pendingOlderThanSeconds,
        p_processing_older_than_seconds: input.processingOlderThanSeconds,
        p_limit: input.limit,
      }, candidatesSchema),

    async resolveProviderReference(providerReference) {
      const r = await call(
        "resolve_provider_reference",
        { p_provider_reference: providerReference },
        providerReferenceResolutionSchema,
      );
      switch (r.outcome) {
        case "unknown_reference":
          return { outcome: "unknown_reference" };
        case "credited":
          return {
            outcome: "credited",
            payment: r.payment,
            credits: r.credits,
            creditedProviderReference: r.credited_provider_reference,
          };
        case "mismatch":
        case "not_credited":
          return { outcome: r.outcome, payment: r.payment, credits: r.credits };
        default: {
          const unreachable: never = r;
          return unreachable;
        }
      }
    },

    async getProviderReconciliationCursor(provider) {
      const c = await call(
        "get_provider_reconciliation_cursor",
        { p_provider: provider },
        reconciliationCursorSchema.nullable(),
      );
      return c === null ? null : reconciliationCursor(c);
    },

    async advanceProviderReconciliationCursor(provider, checkedUntil) {
      return reconciliationCursor(
        await call(
          "advance_provider_reconciliation_cursor",
          { p_provider: provider, p_checked_until: checkedUntil },
          reconciliationCursorSchema,
        ),
      );
    },

    getWallet: (userId, limit, cursor) =>
      call("get_wallet", { p_user_id: userId, p_limit: limit, ...cursorArgs(cursor) }, walletSchema),

    checkLedgerInvariants: () => call("check_ledger_invariants", {}, violationsSchema),

    purgeIdempotencyKeys: () => call("purge_idempotency_keys", {}, purgedCountSchema),

    maxFence: () => call("max_fence", {}, fenceSchema),

    beginRefund: (input) =>
      call("begin_refund", {
        p_reference: input.reference,
        p_amount: input.amount,
        p_reason: input.reason,
        p_request_key: input.requestKey,
        p_fingerprint: input.fingerprint,
        p_refund_request_id: input.refundRequestId,
      }, beginRefundResultSchema),

    refuseRefundRequest: (refundRequestId, failureReason) =>
      call("refuse_refund_request", {
        p_refund_request_id: refundRequestId,
        p_failure_reason: failureReason,
      }, z.boolean()),

    claimRefundSubmission: (refundId, claimSeconds) =>
      call("claim_refund_submission", { p_refund_id: refundId, p_claim_seconds: claimSeconds }, refundClaimSchema),

    async releaseRefundClaim(refundId) {
      await rpc("release_refund_claim", { p_refund_id: refundId });
    },

    applyRefundStatus: (input) =>
      call("apply_refund_status", {
        p_refund_id: input.refundId,
        p_provider_refund_id: input.providerRefundId,
        p_status: input.status,
        p_provider_payload: input.providerPayload ?? null,
        p_failure_reason: input.failureReason,
        p_actor: input.actor,
        p_event_provider: input.event?.provider ?? null,
        p_event_key: input.event?.eventKey ?? null,
        p_event_type: input.event?.eventType ?? null,
        p_event_payload: input.event?.payload ?? null,
      }, appliedRefundSchema),

    listRefunds: (reference, userId) =>
      call("list_refunds", { p_reference: reference, p_user_id: userId }, z.array(refundSchema).nullable()),

    refundCandidates: (input) =>
      call("refund_candidates", {
        p_pending_older_than_seconds: input.pendingOlderThanSeconds,
        p_in_flight_older_than_seconds: input.inFlightOlderThanSeconds,
        p_limit: input.limit,
      }, z.array(refundSchema)),

    async openSuccessEvents(input) {
      const rows = await call("open_success_events", {
        p_older_than_seconds: input.olderThanSeconds,
        p_limit: input.limit,
      }, storedEventsSchema);
      return rows.map((r) => ({
        provider: r.provider,
        eventKey: r.event_key,
        eventType: r.event_type,
        reference: r.reference,
        payload: r.payload,
      }));
    },

    refundRequestCandidates: (input) =>
      call("refund_request_candidates", {
        p_older_than_seconds: input.olderThanSeconds,
        p_limit: input.limit,
      }, z.array(z.record(z.string(), z.unknown()))),

    debitWallet: (input) =>
      call("debit_wallet", {
        p_user_id: input.userId,
        p_currency: input.currency,
        p_amount: input.amount,
        p_reason: input.reason,
        p_idempotency_key: input.idempotencyKey,
        p_fingerprint: input.fingerprint,
      }, debitResultSchema),

    async ping() {
      await call("ping", {}, pingSchema);
    },
  };
}
