/**
 * The JSON shapes the sandbox answers with, modelled on Paystack's: the
 * transaction object of verify and of the `charge.success` webhook, and the
 * refund object of `POST /refund` and `refund.processed`. Fields we have no
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

/** The refund object of `POST /refund`. */
export async function refundData(r: SandboxRefund, t: SandboxTransaction): Promise<Record<string, unknown>> {
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
    deducted_amount: 0,
    channel: null,
    merchant_note: r.merchantNote ?? `Refund for transaction ${t.reference}`,
    customer_note: r.customerNote ?? `Refund for transaction ${t.reference}`,
    status: r.status,
    refunded_by: "sandbox@example.com",
    expected_at: r.createdAt,
    currency: r.currency,
    domain: DOMAIN,
    amount: r.amount,
    fully_deducted: false,
    id: r.id,
    createdAt: r.createdAt,
    updatedAt: r.createdAt,
  };
}

/** The `data` of a `refund.processed` webhook. */
export async function refundEventData(r: SandboxRefund, t: SandboxTransaction): Promise<Record<string, unknown>> {
  return {
    status: "processed",
    transaction_reference: t.reference,
    refund_reference: `RF_${r.id}`,
    amount: r.amount,
    currency: r.currency,
    processor: "sandbox",
    customer: await customerOf(t.email),
    integration: INTEGRATION_ID,
    domain: DOMAIN,
    id: String(r.id),
  };
}
