/**
 * Domain errors and their one mapping to HTTP (RFC 9457 problem+json).
 *
 * Every error a client can see has a stable snake_case `code`; the table
 * below is the only place that decides its status and title. SQL functions
 * raise SQLSTATEs of class `PM` (see `supabase/migrations`), which the store
 * adapter turns into these codes (`src/store/sql_states.ts`).
 *
 * @module
 */

/** Every stable error code, with its HTTP status and a short title. */
export const ERROR_TABLE = {
  bad_request: [400, "Bad request"],
  malformed_json: [400, "Malformed JSON body"],
  idempotency_key_missing: [400, "Idempotency-Key header is required"],
  idempotency_key_invalid: [400, "Idempotency-Key header is invalid"],
  unauthorized: [401, "Authentication required"],
  invalid_token: [401, "Invalid or expired token"],
  invalid_signature: [401, "Invalid webhook signature"],
  forbidden: [403, "Forbidden"],
  not_found: [404, "Not found"],
  payment_not_found: [404, "Payment not found"],
  method_not_allowed: [405, "Method not allowed"],
  idempotency_key_in_use: [409, "A request with this Idempotency-Key is in progress"],
  stale_payment_version: [409, "Payment was changed by someone else"],
  illegal_transition: [409, "Payment cannot move to that state"],
  stale_fence: [409, "Lock holder is stale"],
  payment_locked: [409, "Payment is being processed"],
  insufficient_balance: [409, "Wallet balance is too low"],
  payment_not_payable: [409, "Payment can no longer be paid"],
  payment_not_refundable: [409, "Payment cannot be refunded"],
  payload_too_large: [413, "Request body too large"],
  unsupported_media_type: [415, "Unsupported media type"],
  validation_failed: [422, "Request validation failed"],
  idempotency_key_reused: [422, "Idempotency-Key was used with a different request"],
  refund_exceeds_payment: [422, "Refund exceeds the refundable amount"],
  provider_rejected: [422, "Payment provider rejected the request"],
  rate_limited: [429, "Too many requests"],
  internal_error: [500, "Internal server error"],
  provider_error: [502, "Payment provider error"],
  provider_unavailable: [503, "Payment provider unavailable"],
  database_unavailable: [503, "Database unavailable"],
} as const satisfies Record<string, readonly [number, string]>;

/** A stable, client-visible error code. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** Options of {@linkcode AppError}. */
export interface AppErrorOptions {
  /** Human-readable detail for this occurrence. Never a secret. */
  detail?: string;
  /** Seconds the client should wait before retrying (sets `Retry-After`). */
  retryAfter?: number;
  /** Machine-readable extras added to the problem body (e.g. validation issues). */
  extras?: Record<string, unknown>;
  /** Extra response headers (e.g. `Allow`). */
  headers?: Record<string, string>;
  /** The underlying error, for logs only. */
  cause?: unknown;
}

/**
 * An error the service means to show a client. Anything else that escapes a
 * handler becomes a 500 `internal_error` without details.
 *
 * @example
 * ```ts
 * throw new AppError("payment_not_found", { detail: "No payment with reference pay-1" });
 * ```
 */
export class AppError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** The HTTP status from {@linkcode ERROR_TABLE}. */
  readonly status: number;
  /** See {@linkcode AppErrorOptions.retryAfter}. */
  readonly retryAfter: number | undefined;
  /** See {@linkcode AppErrorOptions.extras}. */
  readonly extras: Record<string, unknown> | undefined;
  /** See {@linkcode AppErrorOptions.headers}. */
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, { detail, retryAfter, extras, headers, cause }: AppErrorOptions = {}) {
    super(detail ?? ERROR_TABLE[code][1], { cause });
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_TABLE[code][0];
    this.retryAfter = retryAfter;
    this.extras = extras;
    this.headers = headers;
  }
}
