/**
 * zod schemas of what the SQL functions return (see `docs/database.md`).
 * Every RPC result is parsed before a use case sees it: a migration that
 * drifted from the port fails loudly here instead of feeding a wrong value
 * into a decision about money.
 *
 * Money arrives as JSON numbers (Postgres renders bigint inside jsonb as a
 * number): only safe integers are accepted, so an amount can never be
 * silently rounded by the double it travels in.
 *
 * @module
 */
import { z } from "zod";
import { PAYMENT_STATES } from "../payments/payment_state.ts";

/** Minor units: a non-negative safe integer. */
export const moneySchema = z.number().int().nonnegative().refine(Number.isSafeInteger, {
  message: "Amount is not a safe integer",
});

/** An ISO 4217 currency code. */
export const currencySchema = z.string().regex(/^[A-Z]{3}$/);

/** A timestamp as the SQL renders it (`_iso`: UTC, microseconds, `Z`). */
export const timestampSchema = z.string().datetime();

const stateSchema = z.enum(PAYMENT_STATES);

/** One `state_transitions` entry. */
export const stateTransitionSchema = z.object({
  from: stateSchema.nullable(),
  to: stateSchema,
  at: timestampSchema,
  actor: z.string(),
  reason: z.string().nullable(),
});

/** A payment (`_payment_json`), the port's `Payment`. */
export const paymentSchema = z.object({
  id: z.string().uuid(),
  user_id: z.string().uuid(),
  reference: z.string().min(1),
  provider_reference: z.string().min(1),
  provider: z.string().min(1),
  amount: moneySchema,
  currency: currencySchema,
  email: z.string().nullable(),
  metadata: z.record(z.unknown()),
  state: stateSchema,
  settled: z.boolean(),
  state_transitions: z.array(stateTransitionSchema).min(1),
  lock_version: z.number().int().nonnegative(),
  refunded_amount: moneySchema,
  failure_reason: z.string().nullable(),
  authorization_url: z.string().nullable(),
  access_code: z.string().nullable(),
  processing_started_at: timestampSchema.nullable(),
  processing_completed_at: timestampSchema.nullable(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
});

const httpStatusSchema = z.number().int().min(100).max(599);

/** `begin_payment_request`. */
export const beginResultSchema = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("created"), payment: paymentSchema }),
  z.object({ outcome: z.literal("resumed"), payment: paymentSchema }),
  z.object({ outcome: z.literal("not_payable"), payment: paymentSchema }),
  z.object({ outcome: z.literal("replay"), status: httpStatusSchema, body: z.unknown() }),
  z.object({ outcome: z.literal("in_progress"), retry_after_seconds: z.number().int().min(1) }),
  z.object({ outcome: z.literal("mismatch") }),
]);

/** `complete_payment_request`: the stored response. */
export const storedResponseSchema = z.object({ status: httpStatusSchema, body: z.unknown() });

/** `mark_processing`, `fail_payment`. */
export const changedPaymentSchema = z.object({ changed: z.boolean(), payment: paymentSchema });

/** `credit_user`. `credited` must agree with `outcome`. */
export const creditResultSchema = z.object({
  outcome: z.enum(["credited", "already_credited", "mismatch", "not_creditable"]),
  credited: z.boolean(),
  late_success: z.boolean(),
  payment: paymentSchema,
}).refine((r) => r.credited === (r.outcome === "credited"), { message: "credited disagrees with outcome" });

/** `record_webhook_event`. */
export const webhookEventResultSchema = z.object({
  event_id: z.string().uuid(),
  duplicate: z.boolean(),
  processed: z.boolean(),
  payment: paymentSchema.nullable(),
});

/** A keyset cursor, or null on the last page. */
export const cursorSchema = z.object({ created_at: timestampSchema, id: z.string().uuid() }).nullable();

/** `list_payments`. */
export const paymentPageSchema = z.object({ items: z.array(paymentSchema), next_cursor: cursorSchema });

/** `reconcile_candidates`. */
export const candidatesSchema = z.array(z.object({
  reference: z.string().min(1),
  state: stateSchema,
  created_at: timestampSchema,
  age_seconds: z.number().int().nonnegative(),
}));

/** `get_wallet`. */
export const walletSchema = z.object({
  balances: z.array(z.object({ currency: currencySchema, balance: moneySchema, updated_at: timestampSchema })),
  items: z.array(z.object({
    id: z.string().uuid(),
    reference: z.string().min(1),
    payment_reference: z.string().nullable(),
    type: z.enum(["credit", "refund", "debit"]),
    amount: moneySchema,
    currency: currencySchema,
    balance_after: moneySchema,
    created_at: timestampSchema,
  })),
  next_cursor: cursorSchema,
});

/** `check_ledger_invariants` (a set of rows → a JSON array). */
export const violationsSchema = z.array(z.object({
  invariant: z.string(),
  subject: z.string(),
  detail: z.record(z.unknown()),
}));

/** `max_fence`: the highest fencing token any payment has seen. */
export const fenceSchema = z.number().int().nonnegative().refine(Number.isSafeInteger);

/** `purge_idempotency_keys`. */
export const purgedCountSchema = z.number().int().nonnegative();

/** `ping`. */
export const pingSchema = z.literal("ok");
