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
  /** The provider reference it is about (ours, or `<reference>.r<n>`), when it names one. */
  reference: string | null;
  claim: ProviderEventClaim;
  /** The parsed body, stored as evidence. */
  payload: unknown;
}
