/**
 * zod schemas of what the SQL functions return (see `docs/database.md`),
 * built on the domain's own schemas (`src/payments/payment.ts`).
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
import {
  currencySchema,
  moneySchema,
  paymentSchema,
  paymentStateSchema,
  timestampSchema,
} from "../payments/payment.ts";

import { debitSchema, refundSchema } from "../payments/refund.ts";

export { creditResultSchema, paymentSchema } from "../payments/payment.ts";
export { refundSchema } from "../payments/refund.ts";

const httpStatusSchema = z.number().int().min(100).max(599);

/** `begin_payment_request`. */
export const beginResultSchema = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("created"), payment: paymentSchema }),
  z.object({ outcome: z.literal("resumed"), payment: paymentSchema }),
  z.object({ outcome: z.literal("not_payable"), payment: paymentSchema }),
  z.object({ outcome: z.literal("replay"), status: httpStatusSchema, body: z.unknown().optional() }),
  z.object({ outcome: z.literal("in_progress"), retry_after_seconds: z.number().int().min(1) }),
  z.object({ outcome: z.literal("mismatch") }),
]);

/** `complete_payment_request`: the stored response. */
export const storedResponseSchema = z.object({ status: httpStatusSchema, body: z.unknown().optional() });

/** `mark_processing`, `fail_payment`. */
export const changedPaymentSchema = z.object({ changed: z.boolean(), payment: paymentSchema });

/** `record_webhook_event`. */
export const webhookEventResultSchema = z.object({
  event_id: z.guid(),
  duplicate: z.boolean(),
  processed: z.boolean(),
  payment: paymentSchema.nullable(),
});

/** A keyset cursor, or null on the last page. */
export const cursorSchema = z.object({ created_at: timestampSchema, id: z.guid() }).nullable();

/** `list_payments`. */
export const paymentPageSchema = z.object({ items: z.array(paymentSchema), next_cursor: cursorSchema });

/** `reconcile_candidates`. */
export const candidatesSchema = z.array(z.object({
  reference: z.string().min(1),
  state: paymentStateSchema,
  created_at: timestampSchema,
  age_seconds: z.number().int().nonnegative(),
}));

/** `get_wallet`. */
export const walletSchema = z.object({
  balances: z.array(z.object({
    currency: currencySchema,
    balance: moneySchema,
    held: moneySchema,
    available: moneySchema,
    updated_at: timestampSchema,
  })),
  items: z.array(z.object({
    id: z.guid(),
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
  detail: z.record(z.string(), z.unknown()),
}));

/** `max_fence`: the highest fencing token any payment has seen. */
export const fenceSchema = z.number().int().nonnegative().refine(Number.isSafeInteger);

/** `open_success_events`. */
export const storedEventsSchema = z.array(z.object({
  provider: z.string(),
  event_key: z.string(),
  event_type: z.string(),
  reference: z.string().nullable(),
  payload: z.unknown(),
}));

/** `begin_refund`. */
export const beginRefundResultSchema = z.object({
  outcome: z.enum(["created", "existing"]),
  refund: refundSchema,
});

/** `claim_refund_submission`. */
export const refundClaimSchema = z.object({ claimed: z.boolean(), refund: refundSchema.nullable() });

/** `apply_refund_status`. */
export const appliedRefundSchema = z.object({ changed: z.boolean(), refund: refundSchema.nullable() });

/** `debit_wallet`. */
export const debitResultSchema = z.object({ replayed: z.boolean(), debit: debitSchema });

/** `purge_idempotency_keys`. */
export const purgedCountSchema = z.number().int().nonnegative();

/** `ping`. */
export const pingSchema = z.literal("ok");

/** `resolve_provider_reference`. */
export const providerReferenceResolutionSchema = z.discriminatedUnion("outcome", [
  z.object({
    outcome: z.literal("unknown_reference"),
    payment: z.null(),
    credits: z.literal(0),
    credited_provider_reference: z.null(),
  }),
  z.object({
    outcome: z.literal("credited"),
    payment: paymentSchema,
    credits: z.number().int().nonnegative(),
    credited_provider_reference: z.string().nullable(),
  }),
  z.object({
    outcome: z.enum(["mismatch", "not_credited"]),
    payment: paymentSchema,
    credits: z.number().int().nonnegative(),
    credited_provider_reference: z.null(),
  }),
]);

/** `get_provider_reconciliation_cursor` (null before the first pass), `advance_provider_reconciliation_cursor`. */
export const reconciliationCursorSchema = z.object({
  provider: z.string().min(1),
  checked_until: timestampSchema,
  updated_at: timestampSchema,
});
