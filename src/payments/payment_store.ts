/**
 * The PaymentStore port: every database operation the use cases need, each
 * one RPC (one SQL function, one transaction). The Supabase adapter
 * (`supabase_payment_store.ts`) implements it with supabase-js `.rpc()`.
 *
 * Money is an integer number of minor units (`number`, checked to be a safe
 * integer when parsed) plus an ISO 4217 currency code.
 *
 * @module
 */
import type { PaymentState } from "./payment_state.ts";
import type { CreditResult, Payment } from "./payment.ts";
import type { Debit, Refund, RefundStatusUpdate } from "./refund.ts";

export type { CreditOutcome, CreditResult, Payment, StateTransition } from "./payment.ts";

/**
 * What processing a stored webhook event did (`webhook_events.outcome`, a
 * closed list in SQL too): a credit attempt's outcome, the payment failed
 * (`failed`), nothing to do for a settled payment (`already_settled`), no
 * payment of ours (`unknown_reference`), a refund status applied
 * (`refund_updated`) or no refund of ours (`unknown_refund`).
 */
export const WEBHOOK_EVENT_OUTCOMES = [
  "credited",
  "already_credited",
  "mismatch",
  "not_creditable",
  "failed",
  "already_settled",
  "unknown_reference",
  "refund_updated",
  "unknown_refund",
] as const;

/** What processing a stored webhook event did. */
export type WebhookEventOutcome = typeof WEBHOOK_EVENT_OUTCOMES[number];

/** A provider event as stored (see {@linkcode PaymentStore.openSuccessEvents}). */
export interface StoredProviderEvent {
  provider: string;
  eventKey: string;
  eventType: string;
  reference: string | null;
  payload: unknown;
}

/** Options of {@linkcode PaymentStore.markProcessing}. */
export interface MarkProcessingOptions extends WriterOptions {
  /** Only this user's payment (null answer otherwise). */
  ownerId?: string | null;
}

/** Input of {@linkcode PaymentStore.beginRefund}. */
export interface BeginRefundInput {
  reference: string;
  /** Minor units; null refunds everything still refundable. */
  amount: number | null;
  reason: string;
  /** `api:<Idempotency-Key>` or `refund_request:<id>`. */
  requestKey: string;
  fingerprint: string;
  refundRequestId: string | null;
}

/** Input of {@linkcode PaymentStore.applyRefundStatus}. */
export interface ApplyRefundStatusInput {
  /** Ours, when known; else the provider's id finds it. */
  refundId: string | null;
  providerRefundId: string | null;
  status: RefundStatusUpdate;
  providerPayload: unknown;
  failureReason: string | null;
  actor: string;
  /** The webhook event that brought the news, recorded in the same transaction. */
  event: { provider: string; eventKey: string; eventType: string; payload: unknown } | null;
}

/** Input of {@linkcode PaymentStore.debitWallet}. */
export interface DebitWalletInput {
  userId: string;
  currency: string;
  amount: number;
  reason: string;
  idempotencyKey: string;
  fingerprint: string;
}

/** Input of {@linkcode PaymentStore.beginPaymentRequest}. */
export interface BeginPaymentRequestInput {
  userId: string;
  idempotencyKey: string;
  /** SHA-256 (hex) over method, path and canonical JSON body. */
  fingerprint: string;
  method: string;
  path: string;
  amount: number;
  currency: string;
  email: string | null;
  metadata: Record<string, unknown>;
  provider: string;
  /** An in-flight request older than this is taken over. */
  lockTimeoutSeconds: number;
  /** How long the stored response is kept. */
  retentionHours: number;
}

/** Outcome of {@linkcode PaymentStore.beginPaymentRequest}. */
export type BeginPaymentRequestResult =
  /** First time this key is seen: the payment row was created (recovery point payment_created). */
  | { outcome: "created"; payment: Payment }
  /** A previous run stopped after creating the payment: continue from payment_created. */
  | { outcome: "resumed"; payment: Payment }
  /** A previous run stopped after creating the payment, which is no longer pending: hand out no checkout. */
  | { outcome: "not_payable"; payment: Payment }
  /** The first request finished: replay its stored answer. */
  | { outcome: "replay"; status: number; body: unknown }
  /** Another request with this key is running. */
  | { outcome: "in_progress"; retryAfterSeconds: number }
  /** Same key, different request fingerprint. */
  | { outcome: "mismatch" };

/** Input of {@linkcode PaymentStore.completePaymentRequest}. */
export interface CompletePaymentRequestInput {
  userId: string;
  idempotencyKey: string;
  responseStatus: number;
  responseBody: unknown;
  authorizationUrl: string | null;
  accessCode: string | null;
  /** Set when the provider definitely refused: the payment moves to failed. */
  failureReason: string | null;
}

/** Common options of the credit-path writers. */
export interface WriterOptions {
  /** Fencing token of the lock holder; null when running without the lock. */
  fence: number | null;
  /** Who acts: `verify`, `webhook`, `reconcile`, `staff:<id>`... */
  actor: string;
  /** Why, for the audit trail. */
  reason?: string | null;
}

/** Result of {@linkcode PaymentStore.recordWebhookEvent}. */
export interface RecordWebhookEventResult {
  eventId: string;
  /** The event had been received before. */
  duplicate: boolean;
  /** The event needs no more work (processed now or before). */
  processed: boolean;
  /** The payment it refers to, when known. */
  payment: Payment | null;
}

/** A payment due for reconciliation. */
export interface ReconcileCandidate {
  reference: string;
  state: PaymentState;
  created_at: string;
  age_seconds: number;
}

/** A wallet balance. */
export interface WalletBalance {
  currency: string;
  balance: number;
  /** Reserved for refunds in flight. */
  held: number;
  /** Spendable: balance − held. */
  available: number;
  updated_at: string;
}

/** A ledger entry (`sms_transactions`). */
export interface LedgerEntry {
  id: string;
  reference: string;
  payment_reference: string | null;
  type: "credit" | "refund" | "debit";
  amount: number;
  currency: string;
  balance_after: number;
  created_at: string;
}

/** Keyset cursor: the last item of the previous page. */
export interface Cursor {
  created_at: string;
  id: string;
}

/** A page of items. */
export interface Page<T> {
  items: T[];
  next_cursor: Cursor | null;
}

/**
 * Where a reference the provider reports stands with us
 * (`resolve_provider_reference`): no payment of ours, or the payment (any
 * attempt's reference resolves to it) with how many ledger credits it has.
 */
export type ProviderReferenceResolution =
  /** No payment of ours: a reference we never issued, or `.r<n>` beyond the payment's attempts. */
  | { outcome: "unknown_reference" }
  /**
   * Completed or refunded: credited. `creditedProviderReference` is the
   * provider reference whose confirmed success was credited (`null` when the
   * stored payload names none): a success of another attempt was paid on top.
   */
  | { outcome: "credited"; payment: Payment; credits: number; creditedProviderReference: string | null }
  /** Failed for an amount/currency mismatch: never credited automatically. */
  | { outcome: "mismatch"; payment: Payment; credits: number }
  /** Pending, processing, or failed for another reason: a provider success for it is owed a credit. */
  | { outcome: "not_credited"; payment: Payment; credits: number };

/** Per provider, the end of the last window reconciled against the provider's records. */
export interface ProviderReconciliationCursor {
  provider: string;
  /** Every provider transaction created up to this instant (ISO 8601) was checked. */
  checkedUntil: string;
  updatedAt: string;
}

/** One broken ledger invariant. */
export interface InvariantViolation {
  invariant: string;
  subject: string;
  detail: Record<string, unknown>;
}

/** Every database operation of the service. Each method is one RPC. */
export interface PaymentStore {
  /** Idempotency phase 1: claim the key, create the payment. */
  beginPaymentRequest(input: BeginPaymentRequestInput): Promise<BeginPaymentRequestResult>;
  /** Idempotency phase 2: store provider data and the response, release the key. */
  completePaymentRequest(input: CompletePaymentRequestInput): Promise<{ status: number; body: unknown }>;
  /** Releases the key at its recovery point (provider unreachable): the retry resumes. */
  releasePaymentRequest(userId: string, idempotencyKey: string): Promise<void>;
  /**
   * The provider already knows the payment's reference but its checkout was
   * lost (a crash between the provider's answer and completion): open a new
   * provider attempt `<reference>.r<n>`. Only a pending payment changes.
   */
  openProviderAttempt(reference: string): Promise<Payment>;
  /** The user's own payment, or null (someone else's is null too). */
  getPayment(userId: string, reference: string): Promise<Payment | null>;
  /** The user's payments, newest first. */
  listPayments(userId: string, limit: number, cursor: Cursor | null): Promise<Page<Payment>>;
  /**
   * pending → processing, idempotent when already further; stores the fence
   * unless the payment is settled (then it is answered as it is). With
   * `ownerId`, someone else's (or no) payment is null and nothing is written:
   * a customer's verify needs no separate ownership read.
   */
  markProcessing(
    reference: string,
    options: MarkProcessingOptions,
  ): Promise<{ changed: boolean; payment: Payment } | null>;
  /** The one credit transaction (see `credit_user` in SQL). */
  creditUser(
    input: {
      reference: string;
      amount: number;
      currency: string;
      providerPayload: unknown;
      webhookEventId?: string | null;
    } & WriterOptions,
  ): Promise<CreditResult>;
  /** pending|processing → failed, idempotent when already settled. */
  failPayment(
    input:
      & { reference: string; reason: string; providerPayload: unknown; webhookEventId?: string | null }
      & WriterOptions,
  ): Promise<{ changed: boolean; payment: Payment }>;
  /** Records a provider event (deduplicated by provider + event key). */
  recordWebhookEvent(input: {
    provider: string;
    eventKey: string;
    eventType: string;
    reference: string | null;
    payload: unknown;
    /** Move a pending payment to processing under this fence (the caller holds the lock). */
    markProcessing: boolean;
    fence: number | null;
  }): Promise<RecordWebhookEventResult>;
  /** Payments stuck in pending/processing past the thresholds. */
  reconcileCandidates(input: {
    pendingOlderThanSeconds: number;
    processingOlderThanSeconds: number;
    limit: number;
  }): Promise<ReconcileCandidate[]>;
  /** Which payment a provider-reported reference belongs to, and whether it was credited. */
  resolveProviderReference(providerReference: string): Promise<ProviderReferenceResolution>;
  /** The provider's reconciliation cursor; null before its first complete pass. */
  getProviderReconciliationCursor(provider: string): Promise<ProviderReconciliationCursor | null>;
  /** Moves the provider's cursor forward to `checkedUntil` (ISO 8601); never back. */
  advanceProviderReconciliationCursor(provider: string, checkedUntil: string): Promise<ProviderReconciliationCursor>;
  /** The user's balances and latest ledger entries. */
  getWallet(
    userId: string,
    limit: number,
    cursor: Cursor | null,
  ): Promise<{ balances: WalletBalance[] } & Page<LedgerEntry>>;
  /** Every broken ledger invariant (empty when healthy). */
  checkLedgerInvariants(): Promise<InvariantViolation[]>;
  /** Deletes expired idempotency records; returns how many. */
  purgeIdempotencyKeys(): Promise<number>;
  /** The highest fencing token any payment has seen (0 when none). */
  maxFence(): Promise<number>;

  /**
   * Reserves and records a refund (pending), or answers the refund this
   * request key made before. Refusals: `refund_exceeds_payment`,
   * `insufficient_balance` (credit spent), `payment_not_refundable`,
   * `idempotency_key_reused`, `payment_not_found`.
   */
  beginRefund(input: BeginRefundInput): Promise<{ outcome: "created" | "existing"; refund: Refund }>;
  /** Marks a refund_requests row that could not become a refund; false when it was handled already. */
  refuseRefundRequest(refundRequestId: string, failureReason: string): Promise<boolean>;
  /** Claims the one provider call of a pending refund (false when someone else holds it or it is not pending). */
  claimRefundSubmission(refundId: string, claimSeconds: number): Promise<{ claimed: boolean; refund: Refund | null }>;
  /** The provider could not be reached: the refund stays pending and may be retried at once. */
  releaseRefundClaim(refundId: string): Promise<void>;
  /** Applies the provider's word on a refund (once), recording the webhook event that brought it, if any. */
  applyRefundStatus(input: ApplyRefundStatusInput): Promise<{ changed: boolean; refund: Refund | null }>;
  /** A payment's refunds (its owner's when `userId` is given); null when there is no such payment. */
  listRefunds(reference: string, userId: string | null): Promise<Refund[] | null>;
  /** Refunds still in flight past the thresholds, oldest first. */
  refundCandidates(input: {
    pendingOlderThanSeconds: number;
    inFlightOlderThanSeconds: number;
    limit: number;
  }): Promise<Refund[]>;
  /** charge.success events still open (deferred, or their handling died) for unsettled payments, oldest first. */
  openSuccessEvents(input: { olderThanSeconds: number; limit: number }): Promise<StoredProviderEvent[]>;
  /** Staff refund requests no Database Webhook delivered (still pending, no refund), oldest first, as rows. */
  refundRequestCandidates(input: { olderThanSeconds: number; limit: number }): Promise<Record<string, unknown>[]>;
  /** Spends credit; a replay of the key answers the first debit. Refusals: `insufficient_balance`, `idempotency_key_reused`. */
  debitWallet(input: DebitWalletInput): Promise<{ replayed: boolean; debit: Debit }>;
  /** Readiness probe: one trivial RPC. */
  ping(): Promise<void>;
}
