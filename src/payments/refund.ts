/**
 * Refunds and debits as the domain knows them, defined once as zod schemas
 * (the store adapter parses RPC results with them; the types are derived).
 *
 * A refund's state (SQL `refund_state`): `pending` — the amount is reserved
 * but the provider may not know the refund yet; `processing` — the provider
 * accepted it; `needs_attention` — the provider needs a human, still
 * reserved; `processed` — money returned and the ledger debited; `failed` —
 * refused or failed at the provider, the reservation released.
 *
 * @module
 */
import { z } from "zod";
import { currencySchema, moneySchema, timestampSchema } from "./payment.ts";

/** Every refund state. */
export const REFUND_STATES = ["pending", "processing", "needs_attention", "processed", "failed"] as const;

/** A refund state. */
export type RefundState = typeof REFUND_STATES[number];

/** A refund. `provider_transaction` is the provider reference of the paid transaction it refunds. */
export const refundSchema = z.object({
  id: z.guid(),
  payment_reference: z.string().min(1),
  provider_transaction: z.string().min(1),
  user_id: z.guid(),
  amount: moneySchema,
  currency: currencySchema,
  reason: z.string(),
  state: z.enum(REFUND_STATES),
  refund_request_id: z.guid().nullable(),
  provider_refund_id: z.string().nullable(),
  provider_status: z.string().nullable(),
  failure_reason: z.string().nullable(),
  submit_attempts: z.number().int().nonnegative(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  submitted_at: timestampSchema.nullable(),
  settled_at: timestampSchema.nullable(),
});

/** A refund (see {@linkcode refundSchema}). */
export type Refund = z.infer<typeof refundSchema>;

/** Whether no provider answer can change the refund any more. */
export function isRefundFinal(state: RefundState): boolean {
  switch (state) {
    case "processed":
    case "failed":
      return true;
    case "pending":
    case "processing":
    case "needs_attention":
      return false;
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

/** A debit of a wallet (the SMS platform spent credit). */
export const debitSchema = z.object({
  id: z.guid(),
  reference: z.string().min(1),
  user_id: z.guid(),
  amount: moneySchema,
  currency: currencySchema,
  reason: z.string().nullable(),
  balance_after: moneySchema,
  created_at: timestampSchema,
});

/** A debit (see {@linkcode debitSchema}). */
export type Debit = z.infer<typeof debitSchema>;

/** The provider refund statuses `apply_refund_status` takes, plus `rejected`: the provider refused the refund call. */
export type RefundStatusUpdate = "pending" | "processing" | "needs-attention" | "processed" | "failed" | "rejected";
