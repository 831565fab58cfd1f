/**
 * The PaymentProvider port: the calls the use cases make to a payment
 * provider (Paystack first). Adapters: `paystack_provider.ts` over real HTTP,
 * pointed either at Paystack or at the local sandbox (`sandbox/`).
 *
 * Money is an integer number of minor units (kobo, pesewas, cents) plus an
 * ISO 4217 currency code, as everywhere in this service.
 *
 * @module
 */

/** Input of {@linkcode PaymentProvider.initialize}. */
export interface InitializeInput {
  /** Our reference, unique per payment; a retry reuses it so the provider cannot create a second transaction. */
  reference: string;
  /** Minor units; a positive safe integer. */
  amount: number;
  /** ISO 4217 code, three upper-case letters. */
  currency: string;
  email: string;
  metadata?: Record<string, unknown>;
  callbackUrl?: string;
}

/** What the client needs to pay: where to send the customer. */
export interface InitializeResult {
  reference: string;
  authorizationUrl: string;
  accessCode: string;
}

/** Every transaction status Paystack's verify can answer. */
export const PROVIDER_TRANSACTION_STATUSES = [
  "success",
  "failed",
  "abandoned",
  "ongoing",
  "pending",
  "processing",
  "queued",
  "reversed",
] as const;

/** A transaction status as the provider reports it. */
export type ProviderTransactionStatus = typeof PROVIDER_TRANSACTION_STATUSES[number];

/**
 * The provider's view of one transaction. Credit only on `success` with the
 * amount asked ({@linkcode VerifyResult.requestedAmount}), currency and
 * reference matching ours.
 */
export interface VerifyResult {
  reference: string;
  status: ProviderTransactionStatus;
  /**
   * Minor units the customer was charged. When the merchant passes fees to
   * the customer this includes them (`requestedAmount + fees`); a tampered
   * checkout makes it another amount altogether.
   */
  amount: number;
  /**
   * Minor units the transaction asked for: Paystack's `requested_amount`, or
   * `amount` when the answer carries none. With fees passed to the customer,
   * `amount` includes the fees and this is what we asked: compare this one
   * with the payment's amount before crediting, never `amount` alone. Reported
   * as the provider sent it, so it may exceed `amount` when less was charged
   * than asked: credit only when `amount >= requestedAmount` as well.
   */
  requestedAmount: number;
  /** Paystack's fee on the charge in minor units (`fees`); `null` while unsettled or when absent. */
  fees: number | null;
  currency: string;
  paidAt: string | null;
  gatewayResponse: string | null;
  providerTransactionId: string | null;
  /** The provider's `data` object, unchanged, for `provider_payload`. */
  raw: unknown;
}

/** The statuses {@linkcode PaymentProvider.listTransactions} can filter on (Paystack's `status` query). */
export const LISTABLE_TRANSACTION_STATUSES = ["success", "failed", "abandoned", "reversed"] as const;

/** A status the transaction listing filters on. */
export type ListableTransactionStatus = typeof LISTABLE_TRANSACTION_STATUSES[number];

/** Input of {@linkcode PaymentProvider.listTransactions}: one page of the provider's transactions. */
export interface ListTransactionsQuery {
  /** Only transactions in this status. */
  status: ListableTransactionStatus;
  /** Start of the window, ISO 8601 (`2026-11-28T07:00:00.000Z`). */
  from: string;
  /** End of the window, ISO 8601. */
  to: string;
  /** Transactions per page; a positive integer. */
  perPage: number;
  /** The page to fetch, from 1. */
  page: number;
}

/**
 * One transaction of a listing: the same view as verify's
 * ({@linkcode VerifyResult}), plus when the provider created it.
 */
export interface ListedTransaction extends VerifyResult {
  /** When the transaction was initialized at the provider; `null` when the answer carries none. */
  createdAt: string | null;
}

/**
 * One page of {@linkcode PaymentProvider.listTransactions}, with the
 * provider's paging block (Paystack's `meta`: `page`, `perPage`,
 * `pageCount`, `total`).
 */
export interface TransactionPage {
  items: ListedTransaction[];
  /** The page answered (from 1). */
  page: number;
  /** Transactions per page, as the provider applied it. */
  perPage: number;
  /** How many pages the whole listing has (0 when it is empty). */
  pageCount: number;
  /** How many transactions the whole listing has. */
  total: number;
}

/**
 * Every status a provider refund takes (Paystack's): `pending` (accepted,
 * queued), `processing` (sent to the processor), then one of `processed`
 * (the money went back), `failed` (it did not: the amount is refundable
 * again) or `needs-attention` (stuck until the merchant acts, e.g. Paystack
 * needs the customer's bank details; the amount stays taken).
 */
export const PROVIDER_REFUND_STATUSES = ["pending", "processing", "processed", "failed", "needs-attention"] as const;

/** A refund status as the provider reports it. */
export type ProviderRefundStatus = typeof PROVIDER_REFUND_STATUSES[number];

/** Input of {@linkcode PaymentProvider.refund}. */
export interface RefundInput {
  /** The paid transaction: the provider reference (ours, or `<reference>.r<n>`) or the provider's transaction id. */
  transaction: string;
  /** Minor units to refund; a positive safe integer, at most what remains refundable. */
  amount: number;
  /** ISO 4217 code of the transaction. */
  currency: string;
  /**
   * Stored with the refund at the provider and listed back: we put
   * `refund:<our refund id>` here, so that after a crash between the call and
   * storing its answer the refund can be found again with
   * {@linkcode PaymentProvider.listRefunds} instead of being sent twice.
   * 1 to 500 characters.
   */
  merchantNote: string;
  /** Shown to the customer; the provider's default when absent. */
  customerNote?: string;
}

/** The provider's view of one refund. */
export interface RefundResult {
  /** The provider's refund id (Paystack: an integer, as a decimal string). */
  refundId: string;
  status: ProviderRefundStatus;
  /** Minor units. */
  amount: number;
  currency: string;
  /**
   * The refunded transaction's reference, when the answer names it (the
   * refund call's answer does; Paystack's fetch and list may carry only the
   * transaction id); `null` otherwise.
   */
  transactionReference: string | null;
  /** The merchant note stored with the refund (see {@linkcode RefundInput.merchantNote}), `null` when absent. */
  merchantNote: string | null;
  /** The provider's refund object, unchanged. */
  raw: unknown;
}

/** Input of {@linkcode PaymentProvider.listRefunds}. */
export interface ListRefundsInput {
  /** The transaction whose refunds to list: the provider reference, or the provider's transaction id. */
  transaction: string;
}

/**
 * A payment provider. Every method either resolves with the provider's answer
 * or rejects with a {@linkcode ProviderError}; input that could never be valid
 * (a non-integer amount, say) is a caller bug and rejects with a `RangeError`.
 */
export interface PaymentProvider {
  /** Stable provider name stored with each payment, e.g. `"paystack"`. */
  readonly name: string;
  /**
   * Starts a transaction under our reference. A reference the provider
   * already knows rejects with a `duplicate_reference` {@linkcode ProviderError}:
   * its checkout cannot be handed back (verify carries no access code).
   */
  initialize(input: InitializeInput): Promise<InitializeResult>;
  /** Asks the provider for the truth about one transaction. */
  verify(reference: string): Promise<VerifyResult>;
  /**
   * Asks the provider to refund a successful transaction, fully or partly
   * (Paystack's `POST /refund`). Resolves with the refund as the provider
   * accepted it, usually still `pending`: the outcome comes later, announced
   * by webhooks and readable with {@linkcode PaymentProvider.fetchRefund}. A
   * definite refusal (more than what remains refundable, a transaction fully
   * refunded already or never paid) rejects with a `rejected`
   * {@linkcode ProviderError}. An `unavailable` rejection means nothing is
   * known: the refund may exist at the provider all the same, so look for it
   * with {@linkcode PaymentProvider.listRefunds} (by its merchant note) before
   * sending it again.
   */
  refund(input: RefundInput): Promise<RefundResult>;
  /**
   * One refund by the provider's id (Paystack's `GET /refund/:id`); a refund
   * the provider does not know rejects with `not_found`.
   */
  fetchRefund(refundId: string): Promise<RefundResult>;
  /**
   * Every refund of one transaction, all pages (Paystack's `GET /refund`
   * filtered by `transaction`), newest first as the provider orders them. A
   * transaction reference the provider does not know rejects with
   * `not_found`.
   */
  listRefunds(input: ListRefundsInput): Promise<RefundResult[]>;
  /**
   * One page of the provider's own record of transactions in a time window
   * (Paystack's `GET /transaction`): what reconciliation checks our ledger
   * against. Pages are numbered from 1; the provider decides the order (newest
   * first on Paystack) and which timestamp the window applies to.
   */
  listTransactions(query: ListTransactionsQuery): Promise<TransactionPage>;
}

/**
 * How a provider call failed, which decides what the caller may do next:
 *
 * - `rejected`: a definite 4xx answer about the request (validation, business
 *   rule); safe to store and replay, carries the HTTP status and the
 *   provider's message.
 * - `duplicate_reference`: initialize of a reference the provider already
 *   knows (Paystack's 400 "Duplicate Transaction Reference"). A transaction
 *   exists under it, but its checkout cannot be recovered: Paystack's verify
 *   carries no access code or authorization URL. The caller must open a new
 *   attempt under a new reference (and settle the old one through verify).
 * - `unauthorized`: HTTP 401/403, the provider refused our secret key (bad,
 *   rotated or missing). Our configuration error, never the customer's:
 *   nothing happened at the provider, do not store it as a refusal of the
 *   payment; alert, fix the key, retry.
 * - `unavailable`: network error, timeout, 5xx, 408 or 429; nothing is known, retry later.
 * - `not_found`: verify (or a refund listing) of a transaction reference the
 *   provider does not know, or a fetch of a refund id it does not know.
 * - `invalid_response`: an answer we could not parse; treat like `unavailable`
 *   for money (nothing is known) but alert, it means the contract changed.
 */
export type ProviderErrorKind =
  | "rejected"
  | "duplicate_reference"
  | "unauthorized"
  | "unavailable"
  | "not_found"
  | "invalid_response";

/** Options of {@linkcode ProviderError}. */
export interface ProviderErrorOptions {
  httpStatus?: number | null;
  providerMessage?: string | null;
  cause?: unknown;
}

/**
 * A failed provider call. Messages never contain the secret key.
 *
 * @example
 * ```ts
 * try {
 *   await provider.verify("pay-1");
 * } catch (error) {
 *   if (error instanceof ProviderError && error.kind === "not_found") {
 *     // the provider never saw this reference
 *   }
 * }
 * ```
 */
export class ProviderError extends Error {
  /** See {@linkcode ProviderErrorKind}. */
  readonly kind: ProviderErrorKind;
  /** The provider's HTTP status, `null` when no answer arrived. */
  readonly httpStatus: number | null;
  /** The provider's own `message`, when it sent one. */
  readonly providerMessage: string | null;

  constructor(kind: ProviderErrorKind, message: string, options: ProviderErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.httpStatus = options.httpStatus ?? null;
    this.providerMessage = options.providerMessage ?? null;
  }
}
