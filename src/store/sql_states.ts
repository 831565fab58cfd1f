/**
 * The SQLSTATEs our SQL functions raise (class `PM`), the one TypeScript copy
 * of the table in `supabase/migrations` (`errcode = 'PMnnn'`), and how each
 * becomes a domain error. `tests/store/sql_states_test.ts` reads the
 * migrations and fails when the two disagree.
 *
 * @module
 */
import { AppError } from "../errors.ts";

/** Every SQLSTATE of ours, by code. */
export const SQLSTATES = {
  PM001: "illegal_transition",
  PM002: "stale_payment_version",
  PM003: "stale_fence",
  PM004: "payment_not_found",
  PM005: "refund_exceeds_payment",
  PM006: "insufficient_balance",
  PM007: "ledger_append_only",
  PM008: "invalid_argument",
  PM009: "idempotency_key_reused",
  PM010: "payment_not_refundable",
} as const;

/** A SQLSTATE of ours. */
export type PaymentSqlState = keyof typeof SQLSTATES;

/** Whether `code` is one of ours. */
export function isPaymentSqlState(code: string): code is PaymentSqlState {
  return Object.hasOwn(SQLSTATES, code);
}

/**
 * The domain error for one of our SQLSTATEs, or `undefined` for PM007, which
 * only a bug in our own SQL can raise (the caller reports it as a 500).
 *
 * @example
 * ```ts
 * errorFromSqlState("PM003", "Stale fencing token")?.code; // "stale_fence"
 * ```
 */
export function errorFromSqlState(sqlState: PaymentSqlState, message: string): AppError | undefined {
  const name = SQLSTATES[sqlState];
  switch (name) {
    case "illegal_transition":
    case "stale_payment_version":
    case "stale_fence":
    case "payment_not_found":
    case "refund_exceeds_payment":
    case "insufficient_balance":
    case "idempotency_key_reused":
    case "payment_not_refundable":
      return new AppError(name, { detail: message });
    case "invalid_argument":
      return new AppError("validation_failed", { detail: message });
    case "ledger_append_only":
      return undefined;
    default: {
      const unreachable: never = name;
      return unreachable;
    }
  }
}
