/**
 * Paystack webhooks (DESIGN §6, §7). The order is the point:
 *
 * 1. Check the signature over the raw bytes before parsing anything: an
 *    unsigned request changes nothing.
 * 2. Take the payment's lock (one Redis round trip), then record the event
 *    and mark the payment processing in one RPC.
 * 3. Confirm with the provider's verify API (the event's own amount is not
 *    trusted), then settle in one RPC that also marks the event processed, so
 *    an event is never "done" unless its effect committed.
 *
 * Duplicates, unknown references and events for settled payments are
 * answered 200 and change nothing. A contended lock still records the event
 * and answers 200: the holder finishes, reconciliation catches the rest.
 *
 * @module
 */
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { verifyPaystackSignature } from "../providers/paystack_signature.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { ConfirmInput, ConfirmResult } from "./confirm_with_provider.ts";
import type { RunUnderPaymentLock } from "./run_under_payment_lock.ts";
import { paymentReferenceOf } from "./provider_reference.ts";
import { sha256Hex } from "./request_fingerprint.ts";

/** How a webhook was handled (returned in the 200 body, for operators). */
export type WebhookOutcome =
  | "credited"
  | "already_credited"
  | "mismatch"
  | "not_creditable"
  | "failed"
  | "unchanged"
  | "duplicate"
  | "recorded"
  | "deferred";

const eventSchema = z.object({
  event: z.string().min(1).max(100),
  data: z.object({
    id: z.union([z.number(), z.string()]).optional(),
    reference: z.string().min(1).max(200).optional(),
  }).passthrough(),
});

/** Dependencies of {@linkcode createHandlePaystackWebhook}. */
export interface WebhookDeps {
  secretKey: string;
  store: PaymentStore;
  runUnderLock: RunUnderPaymentLock;
  confirm: (input: ConfirmInput) => Promise<ConfirmResult>;
  logger: Logger;
  metrics: Metrics;
}

/** Builds the use case. */
export function createHandlePaystackWebhook(
  { secretKey, store, runUnderLock, confirm, logger, metrics }: WebhookDeps,
): (input: { rawBody: string; signature: string | null }) => Promise<{ outcome: WebhookOutcome }> {
  return async function handlePaystackWebhook({ rawBody, signature }) {
    if (!(await verifyPaystackSignature(secretKey, rawBody, signature))) {
      metrics.inc("webhooks_total", { provider: "paystack", outcome: "bad_signature" });
      throw new AppError("invalid_signature", { detail: "x-paystack-signature is missing or does not match the body" });
    }
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      throw new AppError("malformed_json", { detail: "The webhook body is not JSON" });
    }
    const parsed = eventSchema.safeParse(json);
    if (!parsed.success) throw new AppError("bad_request", { detail: "The webhook body is not a Paystack event" });
    const { event, data } = parsed.data;
    // Paystack sends no event id: the event type plus the transaction id (or
    // reference) identifies a delivery; retries of it carry the same pair.
    const eventKey = `${event}:${data.id ?? data.reference ?? await sha256Hex(rawBody)}`;
    const reference = data.reference ?? null;
    const log = logger.child({ event, reference });
    const record = (markProcessing: boolean, fence: number | null) =>
      store.recordWebhookEvent({
        provider: "paystack",
        eventKey,
        eventType: event,
        reference,
        payload: json,
        markProcessing,
        fence,
      });

    const done = (outcome: WebhookOutcome) => {
      metrics.inc("webhooks_total", { provider: "paystack", outcome });
      log.info("webhook handled", { outcome });
      return { outcome };
    };

    if (event !== "charge.success" || !reference) {
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
