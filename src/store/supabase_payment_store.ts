/**
 * The PaymentStore over Supabase: each method is one `.rpc()` call, i.e. one
 * SQL function in one transaction. Results are parsed with zod; SQLSTATEs of
 * ours become domain errors, connection trouble becomes 503
 * `database_unavailable`, anything else is an internal error (never the
 * client's fault).
 *
 * @module
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { z } from "zod";
import { AppError, errorFromSqlState } from "../errors.ts";
import type { PaymentStore } from "./payment_store.ts";
import {
  beginResultSchema,
  candidatesSchema,
  changedPaymentSchema,
  creditResultSchema,
  paymentPageSchema,
  paymentSchema,
  storedResponseSchema,
  violationsSchema,
  walletSchema,
  webhookEventResultSchema,
} from "./payment_schemas.ts";

/** A store call failed in a way that is neither ours to explain nor the client's. */
export class StoreError extends Error {
  /** SQLSTATE or PostgREST code, when there is one. */
  readonly code: string | null;
  constructor(fn: string, code: string | null, message: string) {
    super(`RPC ${fn} failed${code ? ` (${code})` : ""}: ${message}`);
    this.name = "StoreError";
    this.code = code;
  }
}

type RpcError = { code?: string; message?: string } | null;

const purgedSchema = z.number().int().min(0);
const pingSchema = z.literal("ok");

function _failure(fn: string, error: NonNullable<RpcError>, status: number): Error {
  const code = error.code ?? "";
  const mapped = code ? errorFromSqlState(code, error.message ?? "") : undefined;
  if (mapped) return mapped;
  // Status 0 is supabase-js' network failure; 5xx/503 are the database or gateway down.
  if (status === 0 || status === 503 || status === 502 || status === 504 || code.startsWith("08")) {
    return new AppError("database_unavailable", { detail: "The database is not reachable right now", cause: error });
  }
  return new StoreError(fn, code || null, error.message ?? "unknown error");
}

/**
 * Creates the store.
 *
 * @example
 * ```ts
 * const store = createSupabasePaymentStore(createClient(url, serviceRoleKey));
 * const payment = await store.getPayment(userId, "pay-1");
 * ```
 */
export function createSupabasePaymentStore(client: SupabaseClient): PaymentStore {
  async function call<S extends z.ZodTypeAny>(
    fn: string,
    args: Record<string, unknown>,
    schema: S,
    options: { get?: boolean } = {},
  ): Promise<z.infer<S>> {
    let result;
    try {
      result = await client.rpc(fn, args, options.get ? { get: true } : {});
    } catch (error) {
      throw new AppError("database_unavailable", { detail: "The database is not reachable right now", cause: error });
    }
    if (result.error) throw _failure(fn, result.error, result.status);
    const parsed = schema.safeParse(result.data);
    if (!parsed.success) {
      throw new StoreError(fn, null, `unexpected result shape: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    return parsed.data;
  }

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
        case "in_progress":
          return { outcome: "in_progress", retryAfterSeconds: r.retry_after_seconds };
        case "replay":
          return { outcome: "replay", status: r.status, body: r.body };
        default:
          return r;
      }
    },

    async completePaymentRequest(input) {
      const stored = await call("complete_payment_request", {
        p_user_id: input.userId,
        p_idempotency_key: input.idempotencyKey,
        p_response_status: input.responseStatus,
        p_response_body: input.responseBody,
        p_authorization_url: input.authorizationUrl,
        p_access_code: input.accessCode,
        p_failure_reason: input.failureReason,
      }, storedResponseSchema);
      return { status: stored.status, body: stored.body };
    },

    async releasePaymentRequest(userId, idempotencyKey) {
      const { error, status } = await client.rpc("release_payment_request", {
        p_user_id: userId,
        p_idempotency_key: idempotencyKey,
      });
      if (error) throw _failure("release_payment_request", error, status);
    },

    getPayment: (userId, reference) =>
      call("get_payment", { p_user_id: userId, p_reference: reference }, paymentSchema.nullable()),

    getPaymentByReference: (reference) =>
      call("get_payment_by_reference", { p_reference: reference }, paymentSchema.nullable()),

    listPayments: (userId, limit, cursor) =>
      call("list_payments", {
        p_user_id: userId,
        p_limit: limit,
        p_cursor_created_at: cursor?.created_at ?? null,
        p_cursor_id: cursor?.id ?? null,
      }, paymentPageSchema),

    markProcessing: (reference, { fence, actor, reason = null }) =>
      call(
        "mark_processing",
        { p_reference: reference, p_fence: fence, p_actor: actor, p_reason: reason },
        changedPaymentSchema,
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
        p_payload: input.payload,
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

    async getWallet(userId, limit, cursor) {
      const w = await call("get_wallet", {
        p_user_id: userId,
        p_limit: limit,
        p_cursor_created_at: cursor?.created_at ?? null,
        p_cursor_id: cursor?.id ?? null,
      }, walletSchema);
      return { balances: w.balances, items: w.items, next_cursor: w.next_cursor };
    },

    checkLedgerInvariants: () => call("check_ledger_invariants", {}, violationsSchema, { get: true }),

    purgeIdempotencyKeys: () => call("purge_idempotency_keys", {}, purgedSchema),

    async ping() {
      await call("ping", {}, pingSchema, { get: true });
    },
  };
}
