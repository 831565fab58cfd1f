/**
 * A provider's webhook event in the domain's words: what any provider
 * adapter hands the webhook use case once the event is authentic and parsed
 * (Paystack: `src/providers/paystack_webhook.ts`).
 *
 * @module
 */

/**
 * What an event claims. Only a claimed success asks for the credit path; the
 * claim itself is never trusted: the payment is confirmed with the provider.
 */
export type ProviderEventClaim =
  /** The provider says a payment succeeded (Paystack `charge.success`). */
  | "payment_succeeded"
  /**
   * The provider says a refund moved (Paystack `refund.pending`,
   * `refund.processing`, `refund.processed`, `refund.failed`,
   * `refund.needs-attention`). Like a claimed success it is only a hint:
   * read the refund's status from the provider (fetch it by
   * {@linkcode ProviderEvent.refundId}, or list the refunds of the
   * transaction named by {@linkcode ProviderEvent.reference}) before acting.
   */
  | "refund_updated"
  /** Anything else: recorded for the audit trail, no money moves. */
  | "other";

/** One authentic provider event. */
export interface ProviderEvent {
  /** Provider name, as stored with each payment (`paystack`). */
  provider: string;
  /** Identifies one event across redeliveries: the dedupe key. */
  eventKey: string;
  /** The provider's own event type, e.g. `charge.success`. */
  eventType: string;
  /**
   * The provider reference of the transaction it is about (ours, or
   * `<reference>.r<n>`), when it names one; for a refund event, the refunded
   * transaction's.
   */
  reference: string | null;
  claim: ProviderEventClaim;
  /**
   * The provider's refund id, when the event is about a refund and names it;
   * `null` otherwise. Paystack documents it only in `refund.needs-attention`:
   * for the other refund events find the refund by the transaction
   * ({@linkcode ProviderEvent.reference}).
   */
  refundId: string | null;
  /** The parsed body, stored as evidence. */
  payload: unknown;
}
