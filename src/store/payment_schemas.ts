/**
 * zod schemas of what the SQL functions return. Every RPC result is parsed
 * before the use cases see it: a drifted migration fails loudly here instead
 * of corrupting a decision. Money must arrive as safe integers.
 *
 * @module
 */
import { z } from "zod";
import { PAYMENT_STATES } from "../payments/payment_state.ts";

/** Minor units: a safe integer (jsonb carries bigint as a JSON number). */
export const moneySchema = z.number().int().refine(Number.isSafeInteger, "amount is not a safe integer");

const stateSchema = z.enum(PAYMENT_STATES);
const timestamp = z.string().min(1);

/** `_payment_json`. */
export const paymentSchema = z.object({
  id: z.string().uuid(),
  user_id: z.string().uuid(),
  reference: z.string(),
  provider: z.string(),
  amount: moneySchema,
  currency: z.string(),
  email: z.string().nullable(),
  metadata: z.record(z.unknown()),
  state: stateSchema,
  state_transitions: z.array(z.object({
    from: stateSchema.nullable(),
    to: stateSchema,
    at: z.string(),
    actor: z.string(),
    reason: z.string().nullable(),
  })),
  lock_version: z.number().int(),
  refunded_amount: moneySchema,
  failure_reason: z.string().nullable(),
  authorization_url: z.string().nullable(),
  access_code: z.string().nullable(),
  processing_started_at: timestamp.nullable(),
  processing_completed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

/** `begin_payment_request`. */
export const beginResultSchema = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("created"), payment: paymentSchema }),
  z.object({ outcome: z.literal("resumed"), payment: paymentSchema }),
  z.object({ outcome: z.literal("replay"), status: z.number().int(), body: z.unknown() }),
  z.object({ outcome: z.literal("in_progress"), retry_after_seconds: z.number().int().min(1) }),
  z.object({ outcome: z.literal("mismatch") }),
]);

/** `complete_payment_request`. */
export const storedResponseSchema = z.object({ status: z.number().int(), body: z.unknown() });

/** `mark_processing`, `fail_payment`. */
export const changedPaymentSchema = z.object({ changed: z.boolean(), payment: paymentSchema });

/** `credit_user`. */
export const creditResultSchema = z.object({
  outcome: z.enum(["credited", "already_credited", "mismatch", "not_creditable"]),
  credited: z.boolean(),
  payment: paymentSchema,
});

/** `record_webhook_event`. */
export const webhookEventResultSchema = z.object({
  event_id: z.string().uuid(),
  duplicate: z.boolean(),
  processed: z.boolean(),
  payment: paymentSchema.nullable(),
});

const cursorSchema = z.object({ created_at: timestamp, id: z.string().uuid() }).nullable();

/** `list_payments`. */
export const paymentPageSchema = z.object({ items: z.array(paymentSchema), next_cursor: cursorSchema });

/** `reconcile_candidates`. */
export const candidatesSchema = z.array(z.object({
  reference: z.string(),
  state: stateSchema,
  created_at: timestamp,
  age_seconds: z.number(),
}));

/** `get_wallet`. */
export const walletSchema = z.object({
  balances: z.array(z.object({ currency: z.string(), balance: moneySchema, updated_at: timestamp })),
  items: z.array(z.object({
    id: z.string().uuid(),
    reference: z.string(),
    payment_reference: z.string().nullable(),
    type: z.enum(["credit", "refund", "debit"]),
    amount: moneySchema,
    currency: z.string(),
    balance_after: moneySchema,
    created_at: timestamp,
  })),
  next_cursor: cursorSchema,
});

/** `check_ledger_invariants` (a set of rows). */
export const violationsSchema = z.array(z.object({
  invariant: z.string(),
  subject: z.string(),
  detail: z.record(z.unknown()),
}));
