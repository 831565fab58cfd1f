/**
 * The response bodies of the HTTP API as zod schemas, for the OpenAPI
 * document (`GET /openapi.json`). Request schemas live beside the routes that
 * validate with them; these describe what the routes render, so each one
 * names the function that renders it.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { CREDIT_OUTCOMES } from "../payments/payment.ts";
import { PAYMENT_STATES } from "../payments/payment_state.ts";
import { REFUND_STATES } from "../payments/refund.ts";
import type { WebhookOutcome } from "../payments/handle_provider_event.ts";
import type { LedgerEntry, WalletBalance } from "../payments/payment_store.ts";
import type { ReconcileSummary } from "../payments/reconcile_payments.ts";
import type { Debit } from "../payments/refund.ts";

const timestamp = z.string().openapi({ format: "date-time", example: "2026-11-28T08:05:03.292000Z" });
const minorUnits = z.number().int().nonnegative().openapi({
  description: "An amount in minor units of `currency` (kobo, cents): never a float",
  example: 500000,
});
const currency = z.string().openapi({ description: "ISO 4217 code", example: "NGN" });
const reference = z.string().openapi({
  description: "The payment's reference (ours; the provider knows it too)",
  example: "pay-3f6c0d2e9b1a4c7e8f00112233445566",
});
const nextCursor = z.string().nullable().openapi({
  description: "Pass as `cursor` for the next page; null on the last page",
});

/** A payment state. */
export const PaymentStateSchema = z.enum(PAYMENT_STATES).openapi("PaymentState", {
  description: "pending → processing → completed | failed; completed → refunded; failed → processing for a late " +
    "success (never after an amount mismatch)",
});

/** One entry of a payment's audit trail. */
export const StateTransitionSchema = z.object({
  from: PaymentStateSchema.nullable(),
  to: PaymentStateSchema,
  at: timestamp,
  actor: z.string().openapi({ example: "webhook" }),
  reason: z.string().nullable().openapi({ example: "late_success" }),
}).openapi("StateTransition");

/** The 201 body of `POST /v1/payments` (`initializedBody`). */
export const PaymentCreatedSchema = z.object({
  reference,
  state: PaymentStateSchema,
  amount: minorUnits,
  currency,
  provider: z.string().openapi({ example: "paystack" }),
  authorization_url: z.string().openapi({
    format: "uri",
    description: "Send the customer here to pay (the provider's checkout page)",
  }),
  created_at: timestamp,
}).openapi("PaymentCreated");

/** A payment as its owner sees it (`paymentView`). */
export const PaymentSchema = z.object({
  reference,
  state: PaymentStateSchema,
  amount: minorUnits,
  currency,
  provider: z.string().openapi({ example: "paystack" }),
  email: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  authorization_url: z.string().nullable(),
  refunded_amount: minorUnits,
  failure_reason: z.string().nullable().openapi({
    description: "Why it failed; `amount_mismatch: …` is final, any other failure may still become a late success",
  }),
  lock_version: z.number().int().openapi({ description: "Bumped by every change (optimistic locking)" }),
  state_transitions: z.array(StateTransitionSchema).openapi({ description: "The audit trail, oldest first" }),
  processing_started_at: timestamp.nullable(),
  processing_completed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
}).openapi("Payment");

/** `GET /v1/payments`. */
export const PaymentPageSchema = z.object({
  items: z.array(PaymentSchema),
  next_cursor: nextCursor,
}).openapi("PaymentPage");

/** `GET /v1/wallet`. */
export const WalletSchema = z.object({
  balances: z.array(z.object({
    currency,
    balance: minorUnits,
    held: minorUnits.openapi({ description: "Reserved for refunds in flight" }),
    available: minorUnits.openapi({ description: "Spendable: balance − held" }),
    updated_at: timestamp,
  })),
  entries: z.array(z.object({
    id: z.string().openapi({ format: "uuid" }),
    reference: z.string().openapi({ description: "The ledger entry's own reference" }),
    payment_reference: z.string().nullable(),
    type: z.enum(["credit", "refund", "debit"]),
    amount: minorUnits,
    currency,
    balance_after: minorUnits,
    created_at: timestamp,
  })).openapi({ description: "Ledger entries, newest first" }),
  next_cursor: nextCursor,
}).openapi("Wallet");

/** Every `outcome` of a handled webhook, for operators. */
export const WEBHOOK_OUTCOMES = [
  ...CREDIT_OUTCOMES,
  "failed",
  "unchanged",
  "duplicate",
  "recorded",
  "deferred",
  "refund_updated",
  "unknown_refund",
] as const satisfies readonly WebhookOutcome[];
// Fails to compile when WebhookOutcome gains a value the list above lacks.
const _everyWebhookOutcome: Exclude<WebhookOutcome, typeof WEBHOOK_OUTCOMES[number]> extends never ? true : never =
  true;
void _everyWebhookOutcome;

/** The 200 body of a webhook. */
export const WebhookAckSchema = z.object({
  received: z.literal(true),
  outcome: z.enum(WEBHOOK_OUTCOMES).openapi({ description: "What the service did with the event" }),
}).openapi("WebhookAck");

/**
 * A Paystack event as the webhook reads it: `event` and `data.reference` /
 * `data.id`; everything else is kept as received. Documentation only: the
 * route checks the signature over the raw bytes before parsing anything.
 */
export const PaystackEventSchema = z.object({
  event: z.string().openapi({ example: "charge.success" }),
  data: z.object({
    id: z.union([z.number(), z.string()]).optional(),
    reference: z.string().optional().openapi({
      description: "The provider reference: `<reference>` or `<reference>.r<n>`",
    }),
  }).catchall(z.unknown()),
}).openapi("PaystackEvent");

/** `POST /v1/jobs/reconcile` (the stuck-payment pass). */
export const ReconcileSummarySchema = z.object({
  examined: z.number().int(),
  credited: z.number().int(),
  failed: z.number().int(),
  mismatched: z.number().int(),
  unchanged: z.number().int(),
  locked: z.number().int(),
  errors: z.number().int(),
  refunds: z.object({
    examined: z.number().int(),
    processed: z.number().int(),
    failed: z.number().int(),
    in_flight: z.number().int(),
    errors: z.number().int(),
  }).openapi({ description: "Refunds in flight that were checked, and where each ended up" }),
  open_events: z.object({
    examined: z.number().int(),
    handled: z.number().int(),
    errors: z.number().int(),
  }).openapi({ description: "Success events left open (deferred behind the lock), handled again" }),
  refund_requests: z.object({
    examined: z.number().int(),
    started: z.number().int(),
    refused: z.number().int(),
    errors: z.number().int(),
  }).openapi({ description: "Staff refund requests no Database Webhook delivered, handled as a delivery would" }),
  purged_idempotency_keys: z.number().int(),
  invariant_violations: z.number().int().openapi({
    description: "Rows check_ledger_invariants() returned after the pass: alert when not 0 twice in a row",
  }),
}).openapi("ReconcileSummary");

/** `GET /health`. */
export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

const checkSchema = z.object({
  status: z.enum(["ok", "down", "degraded"]),
  detail: z.string().optional(),
});

/** `GET /ready`. */
export const ReadinessSchema = z.object({
  status: z.enum(["ok", "degraded", "down"]).openapi({
    description: "down: the database does not answer (503); degraded: Redis does not (payments still settle)",
  }),
  checks: z.object({ database: checkSchema, redis: checkSchema }),
}).openapi("Readiness");

/** `POST /v1/jobs/reconcile?scope=provider`: the provider-window pass. */
export const ProviderPassSummarySchema = z.object({
  provider: z.string(),
  from: timestamp,
  to: timestamp,
  windows: z.number().int(),
  complete: z.boolean().openapi({ description: "Every window was checked completely and the cursor reached `to`" }),
  cursor: z.object({ before: timestamp.nullable(), after: timestamp.nullable() }),
  pages: z.number().int(),
  seen: z.number().int(),
  already_credited: z.number().int(),
  credited_now: z.number().int(),
  mismatches: z.number().int(),
  unknown_references: z.number().int(),
  double_paid: z.number().int(),
  unconfirmed: z.number().int(),
  locked: z.number().int(),
  errors: z.number().int(),
  findings: z.array(z.object({
    provider_reference: z.string(),
    reference: z.string().nullable(),
    finding: z.string(),
    amount: minorUnits,
    currency,
    paid_at: z.string().nullable(),
  })).openapi({ description: "The successes that were not simply already credited" }),
}).openapi("ProviderPassSummary");

/** A refund (`refundView`). */
export const RefundSchema = z.object({
  id: z.string().openapi({ format: "uuid" }),
  payment_reference: reference,
  amount: minorUnits,
  currency,
  reason: z.string(),
  state: z.enum(REFUND_STATES).openapi({
    description: "pending → processing → processed | failed (needs_attention: the provider needs a human)",
  }),
  provider_refund_id: z.string().nullable(),
  failure_reason: z.string().nullable(),
  refund_request_id: z.string().nullable().openapi({ description: "The refund_requests row it came from, if any" }),
  created_at: timestamp,
  updated_at: timestamp,
  settled_at: timestamp.nullable(),
}).openapi("Refund");

/** `GET /v1/payments/{reference}/refunds`. */
export const RefundListSchema = z.object({ items: z.array(RefundSchema) }).openapi("RefundList");

/** `POST /v1/wallet/debits` (the debit as stored). */
export const DebitSchema = z.object({
  id: z.string().openapi({ format: "uuid" }),
  reference: z.string(),
  user_id: z.string().openapi({ format: "uuid" }),
  amount: minorUnits,
  currency,
  reason: z.string().nullable(),
  balance_after: minorUnits,
  created_at: timestamp,
}).openapi("Debit");

/** The 200 body of `POST /v1/hooks/database`. */
export const DatabaseHookAckSchema = z.object({
  received: z.literal(true),
  outcome: z.enum(["refund_started", "refund_replayed", "refused", "already_handled", "ignored"]),
  refund: RefundSchema.optional().openapi({ description: "refund_started, refund_replayed" }),
  code: z.string().optional().openapi({ description: "refused: the problem code recorded on the request" }),
  detail: z.string().optional(),
}).openapi("DatabaseHookAck");

// ---------------------------------------------------------------------------
// The schemas above describe what the handlers send; where the handler sends
// a domain value as it is, its type and the schema's must be the same shape,
// or this file stops compiling (a field added on one side only).
// ---------------------------------------------------------------------------
type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _sameShapes: [
  _Same<z.infer<typeof ReconcileSummarySchema>, ReconcileSummary>,
  _Same<z.infer<typeof WalletSchema>["balances"][number], WalletBalance>,
  _Same<z.infer<typeof WalletSchema>["entries"][number], LedgerEntry>,
  _Same<z.infer<typeof DebitSchema>, Debit>,
] = [true, true, true, true];
void _sameShapes;
