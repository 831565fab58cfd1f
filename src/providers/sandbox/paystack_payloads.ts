/**
 * The JSON shapes the sandbox answers with, modelled on Paystack's: the
 * transaction object of verify and of the `charge.success` webhook, the
 * refund objects of `POST /refund`, `GET /refund/:id` and `GET /refund`, and
 * the `data` of the `refund.*` webhooks. Fields we have no
 * meaningful value for are present with Paystack's "empty" values so clients
 * parsing real answers parse these too. Only fields Paystack documents are
 * sent: in particular the transaction object carries no `access_code` and no
 * `authorization_url`, as Paystack's verify does not.
 *
 * @module
 */
import type { NonFinalStatus } from "./sandbox_faults.ts";
import type { SandboxRefund, SandboxTransaction } from "./sandbox_store.ts";

/** Sandbox ids stand in for Paystack's integration id and domain. */
const INTEGRATION_ID = 100_001;
const DOMAIN = "test";

async function _sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A stable customer per email, as Paystack keeps one customer record per email. */
export async function customerOf(email: string): Promise<Record<string, unknown>> {
  const hash = await _sha256Hex(email.toLowerCase());
  return {
    id: parseInt(hash.slice(0, 8), 16),
    first_name: null,
    last_name: null,
    email,
    customer_code: `CUS_${hash.slice(8, 23)}`,
    phone: null,
    metadata: null,
    risk_action: "default",
  };
}

/** A flat 1.5% fee in minor units, rounded down: only there so `fees` is a realistic integer. */
export function feesOf(amount: number): number {
  return Math.floor(amount * 15 / 1000);
}

/** The gateway response Paystack shows for an unsettled transaction. */
export const NOT_COMPLETED = "The transaction was not completed";

/**
 * What the transaction asks the customer to pay, fees aside: initialize's
 * amount, or the tampered checkout's (a tampered checkout is a transaction of
 * another amount, so the service must see the mismatch here too).
 */
export function requestedAmountOf(t: SandboxTransaction): number {
  const charged = t.settledAmount ?? t.amount;
  return t.feesPassed && t.fees !== null ? charged - t.fees : charged;
}

/**
 * The transaction object as Paystack's verify and `charge.success` carry it.
 * `amount`/`currency` are what the customer was charged: with fees passed to
 * the customer `amount = requested_amount + fees`; on a tampered checkout both
 * are the tampered amount.
 */
export async function transactionData(t: SandboxTransaction): Promise<Record<string, unknown>> {
  const success = t.status === "success" || t.status === "reversed";
  const amount = t.settledAmount ?? t.amount;
  return {
    id: t.id,
    domain: DOMAIN,
    status: t.status,
    reference: t.reference,
    receipt_number: null,
    amount,
    message: null,
    gateway_response: t.gatewayResponse ?? NOT_COMPLETED,
    paid_at: t.paidAt,
    created_at: t.createdAt,
    channel: "card",
    currency: t.settledCurrency ?? t.currency,
    ip_address: null,
    metadata: t.metadata ?? "",
    log: null,
    fees: success ? t.fees ?? feesOf(amount) : null,
    fees_split: null,
    authorization: success
      ? {
        authorization_code: `AUTH_${t.accessCode.slice(0, 10)}`,
        bin: "408408",
        last4: "4081",
        exp_month: "12",
        exp_year: "2030",
        channel: "card",
        card_type: "visa",
        bank: "TEST BANK",
        country_code: "NG",
        brand: "visa",
        reusable: true,
        signature: `SIG_${t.accessCode.slice(0, 12)}`,
        account_name: null,
      }
      : {},
    customer: await customerOf(t.email),
    plan: null,
    split: {},
    order_id: null,
    paidAt: t.paidAt,
    createdAt: t.createdAt,
    requested_amount: requestedAmountOf(t),
    transaction_date: t.createdAt,
    plan_object: {},
    subaccount: {},
  };
}

/**
 * One transaction of `GET /transaction` (the listing), with the fields
 * Paystack documents for it: verify's object without its camel-case copies
 * (`paidAt`, `createdAt`), `receipt_number`, `transaction_date` and
 * `plan_object`, `metadata` null rather than `""` when there is none, and
 * the listing's own `source`, `connect` and `pos_transaction_data`.
 */
export async function listedTransactionData(t: SandboxTransaction): Promise<Record<string, unknown>> {
  const {
    paidAt: _paidAt,
    createdAt: _createdAt,
    receipt_number: _receipt,
    transaction_date: _date,
    plan_object: _plan,
    ...data
  } = await transactionData(t);
  return {
    ...data,
    metadata: t.metadata,
    // Every sandbox transaction is opened by the merchant's API (initialize).
    source: { source: "merchant_api", type: "api", identifier: null, entry_point: "transaction_initialize" },
    connect: null,
    pos_transaction_data: null,
  };
}

/**
 * A verify answer of a transaction still in flight: `data` with a non-final
 * `status`, no payment time, no fees and no card authorization yet. Amounts
 * stay what they are.
 */
export function inFlightData(data: Record<string, unknown>, status: NonFinalStatus): Record<string, unknown> {
  return {
    ...data,
    status,
    gateway_response: NOT_COMPLETED,
    paid_at: null,
    paidAt: null,
    fees: null,
    authorization: {},
  };
}

/** Who the sandbox says made a refund (Paystack: the email of the dashboard user or API key owner). */
const REFUNDED_BY = "sandbox@example.com";

/** Paystack's default notes, as in its samples: "Refund for transaction <reference>" (+ " by <who>" for the merchant). */
function _notes(r: SandboxRefund, t: SandboxTransaction): { customer_note: string; merchant_note: string } {
  return {
    customer_note: r.customerNote ?? `Refund for transaction ${t.reference}`,
    merchant_note: r.merchantNote ?? `Refund for transaction ${t.reference} by ${REFUNDED_BY}`,
  };
}

/** What has been deducted from the merchant for the refund: nothing while pending or once failed. */
function _deducted(r: SandboxRefund): { deducted_amount: number; fully_deducted: boolean } {
  const deducted = r.status !== "pending" && r.status !== "failed";
  return { deducted_amount: deducted ? r.amount : 0, fully_deducted: deducted };
}

/**
 * The refund object of `POST /refund`, as Paystack's API reference shows it:
 * the transaction as an object (with its `reference`), the refund still
 * `pending`. `expectedAt` is when the sandbox's schedule will have settled it.
 */
export async function refundData(
  r: SandboxRefund,
  t: SandboxTransaction,
  expectedAt: string,
): Promise<Record<string, unknown>> {
  return {
    transaction: {
      id: t.id,
      domain: DOMAIN,
      reference: t.reference,
      amount: t.settledAmount ?? t.amount,
      paid_at: t.paidAt,
      channel: "card",
      currency: t.settledCurrency ?? t.currency,
      authorization: { exp_month: null, exp_year: null, account_name: null },
      customer: await customerOf(t.email),
      plan: {},
      subaccount: { currency: null },
      split: {},
      order_id: null,
      paidAt: t.paidAt,
      pos_transaction_data: null,
      source: null,
      fees_breakdown: null,
    },
    integration: INTEGRATION_ID,
    ..._deducted(r),
    channel: null,
    ..._notes(r, t),
    status: r.status,
    refunded_by: REFUNDED_BY,
    expected_at: expectedAt,
    currency: r.currency,
    domain: DOMAIN,
    amount: r.amount,
    id: r.id,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * The refund object of `GET /refund/:id` and of each row of `GET /refund`:
 * the transaction by id only. The fields of the API reference's fetch sample,
 * plus those of Paystack's OpenAPI description whose values are plain
 * (`transaction_reference`, `transaction_amount`, `customer`,
 * `bank_reference`, `initiated_by`, `session_id`); the ones whose values it
 * does not explain (`reason`, `refund_type`, `refund_channel`,
 * `collect_account_number`) are left out rather than invented.
 */
export async function refundObjectData(
  r: SandboxRefund,
  t: SandboxTransaction,
  expectedAt: string,
): Promise<Record<string, unknown>> {
  return {
    integration: INTEGRATION_ID,
    transaction: t.id,
    dispute: null,
    settlement: null,
    id: r.id,
    domain: DOMAIN,
    currency: r.currency,
    amount: r.amount,
    status: r.status,
    refunded_at: r.refundedAt,
    expected_at: expectedAt,
    channel: null,
    refunded_by: REFUNDED_BY,
    ..._notes(r, t),
    ..._deducted(r),
    bank_reference: null,
    transaction_reference: t.reference,
    transaction_amount: t.settledAmount ?? t.amount,
    customer: await customerOf(t.email),
    initiated_by: REFUNDED_BY,
    session_id: null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** The `refund.*` events, one per status a refund enters. */
export type RefundEvent =
  | "refund.pending"
  | "refund.processing"
  | "refund.processed"
  | "refund.failed"
  | "refund.needs-attention";

/** The event announcing that a refund entered its current status. */
export function refundEventOf(r: SandboxRefund): RefundEvent {
  return `refund.${r.status}`;
}

/**
 * The `data` of a `refund.*` webhook, field for field as Paystack's samples
 * of each event show it (PaystackOSS/doc-code-snippets,
 * `src/doc/payments/refunds/events/`): the transaction by reference, the
 * customer's names and email, the processor's `refund_reference` (`null`
 * while pending or processing) and `amount` as a digit string in
 * `refund.pending`, `refund.processing` and `refund.processed` but a number in
 * `refund.failed` and `refund.needs-attention`. Only `refund.needs-attention`
 * carries the refund `id` (as a string) and the notes, and it names no
 * `processor`. A receiver must cope with all of that.
 */
export async function refundEventData(r: SandboxRefund, t: SandboxTransaction): Promise<Record<string, unknown>> {
  const customer = await customerOf(t.email);
  const common = {
    status: r.status,
    transaction_reference: t.reference,
    refund_reference: r.status === "pending" || r.status === "processing" ? null : r.processorReference,
    amount: r.status === "failed" || r.status === "needs-attention" ? r.amount : String(r.amount),
    currency: r.currency,
  };
  const names = { first_name: customer.first_name, last_name: customer.last_name, email: customer.email };
  if (r.status === "needs-attention") {
    return {
      ...common,
      customer: names,
      integration: INTEGRATION_ID,
      domain: DOMAIN,
      id: String(r.id),
      ..._notes(r, t),
    };
  }
  return { ...common, processor: "sandbox", customer: names, integration: INTEGRATION_ID, domain: DOMAIN };
}
