/**
 * Provider webhooks (DESIGN §6, §7), once the provider adapter has
 * authenticated and parsed the event (e.g. `src/providers/paystack_webhook.ts`):
 *
 * 1. Take the payment's lock (one Redis round trip), then record the event
 *    and mark the payment processing in one RPC.
 * 2. Confirm with the provider's verify API (the event's own amount is not
 *    trusted), then settle in one RPC that also marks the event processed, so
 *    an event is never "done" unless its effect committed.
 *
 * Duplicates, unknown references and events for settled payments are
 * answered 200 and change nothing. A contended lock still records the event
 * and answers 200: the holder finishes, reconciliation catches the rest (the
 * event stays open until then).
 *
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { ConfirmInput, ConfirmResult } from "./confirm_with_provider.ts";
import type { ProviderEvent } from "./provider_event.ts";
import type { RunUnderPaymentLock } from "./run_under_payment_lock.ts";
import { paymentReferenceOf } from "./provider_reference.ts";
import type { Refunds } from "./refund_payment.ts";

/** How a webhook was handled (returned in the 200 body, for operators). */
export type WebhookOutcome =
  | ConfirmResult["outcome"]
  /** A redelivery of an event already handled. */
  | "duplicate"
  /** Stored; nothing (more) to do for it. */
  | "recorded"
  /** Another holder has the payment: stored, it (or reconciliation) settles it. */
  | "deferred"
  /** A refund event: the provider's refund status was applied / is not a refund of ours. */
  | "refund_updated"
  | "unknown_refund";

/** Dependencies of {@linkcode createHandleProviderEvent}. */
export interface ProviderEventDeps {
  store: PaymentStore;
  runUnderLock: RunUnderPaymentLock;
  confirm: (input: ConfirmInput) => Promise<ConfirmResult>;
  refunds: Pick<Refunds, "refreshFromProvider">;
  logger: Logger;
  metrics: Metrics;
}

/** Builds the use case. */
export function createHandleProviderEvent(
  { store, runUnderLock, confirm, refunds, logger, metrics }: ProviderEventDeps,
): (event: ProviderEvent) => Promise<{ outcome: WebhookOutcome }> {
  return async function handleProviderEvent(event) {
    const { provider, eventKey, eventType, reference, payload } = event;
    const log = logger.child({ provider, event: eventType, reference });
    const record = (markProcessing: boolean, fence: number | null) =>
      store.recordWebhookEvent({ provider, eventKey, eventType, reference, payload, markProcessing, fence });
    const done = (outcome: WebhookOutcome) => {
      metrics.inc("webhooks_total", { provider, outcome });
      log.info("webhook handled", { outcome });
      return { outcome };
    };

    if (event.claim === "refund_updated") {
      // Never short-cut a redelivery: applying the provider's refund status is
      // idempotent, and the event is marked processed only with its effect.
      const refreshed = await refunds.refreshFromProvider(
        { refundId: event.refundId, transaction: reference },
        { provider, eventKey, eventType, payload },
      );
      return done(refreshed.outcome);
    }
    if (event.claim !== "payment_succeeded" || reference === null) {
      const recorded = await record(false, null);
      return done(recorded.duplicate ? "duplicate" : "recorded");
    }

    // Locked by our payment's reference: the event's may name another
    // provider attempt of it.
    const run = await runUnderLock(paymentReferenceOf(reference), "webhook", async (fence): Promise<WebhookOutcome> => {
      const recorded = await record(true, fence);
      if (recorded.processed || !recorded.payment) return recorded.duplicate ? "duplicate" : "recorded";
      const confirmed = await confirm({
        payment: recorded.payment,
        fence,
        actor: "webhook",
        providerReference: reference,
        webhookEventId: recorded.eventId,
      });
      return confirmed.outcome;
    });
    if (run.acquired) return done(run.value);
    await record(false, null);
    return done("deferred");
  };
}
