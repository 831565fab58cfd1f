/**
 * The payment as the domain knows it, defined once as zod schemas: the types
 * are derived from them (`z.infer`), and the store adapter parses every RPC
 * result with the same schemas, so a migration that drifted from the domain
 * fails loudly at the boundary instead of feeding a wrong value into a
 * decision about money.
 *
 * Money is an integer number of minor units (kobo, cents) plus an ISO 4217
 * code. Amounts arrive as JSON numbers: only safe integers are accepted, so
 * an amount can never be silently rounded by the double it travels in.
 *
 * @module
 */
import { z } from "zod";
import { PAYMENT_STATES } from "./payment_state.ts";

/** Minor units: a non-negative safe integer. */
export const moneySchema = z.number().int().nonnegative().refine(Number.isSafeInteger, {
  message: "Amount is not a safe integer",
});

/** An ISO 4217 currency code. */
export const currencySchema = z.string().regex(/^[A-Z]{3}$/);

/** A timestamp as the SQL renders it (UTC ISO 8601, microseconds, `Z`). */
export const timestampSchema = z.string().datetime();

/** A payment state. */
export const paymentStateSchema = z.enum(PAYMENT_STATES);

/** One entry of a payment's audit trail. */
export const stateTransitionSchema = z.object({
  from: paymentStateSchema.nullable(),
  to: paymentStateSchema,
  at: timestampSchema,
  actor: z.string(),
  reason: z.string().nullable(),
});

/** One entry of a payment's audit trail. */
export type StateTransition = z.infer<typeof stateTransitionSchema>;

/**
 * A payment. `reference` is ours; `provider_reference` is what the provider
 * knows for the current attempt (`reference` or `<reference>.r<n>`).
 * `settled`: no provider answer can change its money any more (completed,
 * refunded, or failed for an amount mismatch); any other failed payment may
 * still turn out paid (a late success) and is confirmed with the provider.
 */
export const paymentSchema = z.object({
  id: z.guid(),
  user_id: z.guid(),
  reference: z.string().min(1),
  provider_reference: z.string().min(1),
  provider: z.string().min(1),
  amount: moneySchema,
  currency: currencySchema,
  email: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  state: paymentStateSchema,
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

/** A payment (see {@linkcode paymentSchema}). */
export type Payment = z.infer<typeof paymentSchema>;

/** What one `credit_user` did. */
export const CREDIT_OUTCOMES = [
  /** This call credited the wallet. */
  "credited",
  /** The payment had been credited before: nothing changed. */
  "already_credited",
  /** Amount or currency differ from the payment: it is now failed (for good). */
  "mismatch",
  /** The payment failed for a mismatch before: it cannot be credited. */
  "not_creditable",
] as const;

/** The outcome of a credit attempt. */
export const creditOutcomeSchema = z.enum(CREDIT_OUTCOMES);

/** The outcome of a credit attempt. */
export type CreditOutcome = z.infer<typeof creditOutcomeSchema>;

/**
 * The result of a credit attempt. `credited` agrees with `outcome`;
 * `late_success`: the payment had been failed (declined, abandoned) and the
 * provider's success was credited all the same.
 */
export const creditResultSchema = z.object({
  outcome: creditOutcomeSchema,
  credited: z.boolean(),
  late_success: z.boolean(),
  payment: paymentSchema,
}).refine((r) => r.credited === (r.outcome === "credited"), { message: "credited disagrees with outcome" });

/** The result of a credit attempt (see {@linkcode creditResultSchema}). */
export type CreditResult = z.infer<typeof creditResultSchema>;
