/**
 * Paystack's webhook on the provider side: authenticate the raw bytes, parse
 * the event, name it, and hand the use case a neutral
 * {@linkcode ProviderEvent}. The order is the point: the signature is checked
 * over the exact bytes received before anything is parsed, so an unsigned
 * request changes nothing.
 *
 * @module
 */
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { ProviderEvent } from "../payments/provider_event.ts";
import { sha256Hex } from "../payments/sha256_hex.ts";
import { verifyPaystackSignature } from "./paystack_signature.ts";

const _eventSchema = z.object({
  event: z.string().min(1).max(100),
  data: z.object({
    id: z.union([z.number(), z.string()]).optional(),
    reference: z.string().min(1).max(200).optional(),
  }).loose(),
});

/** Every `refund.*` event Paystack documents. */
const REFUND_EVENT = /^refund\./;

/**
 * What a `refund.*` event names, as Paystack documents its `data`:
 * `transaction_reference`, `amount` (a number, or a digit string in some of
 * its samples), `refund_reference` (the processor's, `null` until it has one)
 * and, in `refund.needs-attention` only, the refund `id`. A field of another
 * shape reads as absent: the event is still recorded, and only a hint anyway.
 */
const _refundEventData = z.object({
  id: z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)]).nullish().catch(null),
  transaction_reference: z.string().min(1).max(200).nullish().catch(null),
  refund_reference: z.string().max(200).nullish().catch(null),
  amount: z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)]).nullish().catch(null),
});

/** A webhook request as received: the body's exact text and the `x-paystack-signature` header. */
export interface PaystackWebhookRequest {
  rawBody: string;
  signature: string | null;
}

/**
 * Builds the parser.
 *
 * @param secretKey the Paystack secret key (Paystack signs webhooks with it; there is no separate webhook secret)
 * @returns a function that resolves with the event (`charge.success` claims
 *   `payment_succeeded`, every `refund.*` event `refund_updated` with the
 *   refunded transaction's reference and, when named, the refund id), or
 *   rejects with `invalid_signature` (401), `malformed_json` or `bad_request` (400)
 *
 * @example
 * ```ts
 * const parse = createPaystackWebhookParser(secretKey);
 * const event = await parse({ rawBody, signature: req.headers.get("x-paystack-signature") });
 * ```
 */
export function createPaystackWebhookParser(
  secretKey: string,
): (request: PaystackWebhookRequest) => Promise<ProviderEvent> {
  return async function parsePaystackWebhook({ rawBody, signature }) {
    if (!(await verifyPaystackSignature(secretKey, rawBody, signature))) {
      throw new AppError("invalid_signature", { detail: "x-paystack-signature is missing or does not match the body" });
    }
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      throw new AppError("malformed_json", { detail: "The webhook body is not JSON" });
    }
    const parsed = _eventSchema.safeParse(json);
    if (!parsed.success) throw new AppError("bad_request", { detail: "The webhook body is not a Paystack event" });
    const { event, data } = parsed.data;
    if (REFUND_EVENT.test(event)) {
      const refund = _refundEventData.parse(data);
      const reference = refund.transaction_reference ?? null;
      const refundId = refund.id === null || refund.id === undefined ? null : String(refund.id);
      // The event type carries the status, so each status of a refund is its
      // own event. Paystack documents the refund id in only one of them: else
      // the transaction, amount and processor reference tell refunds apart
      // (two refunds alike in all three are one event to us; whoever handles
      // it re-reads every refund of the transaction).
      const identity = refundId ??
        (reference === null
          ? await sha256Hex(rawBody)
          : `${reference}:${refund.amount ?? ""}:${refund.refund_reference ?? ""}`);
      return {
        provider: "paystack",
        eventKey: `${event}:${identity}`,
        eventType: event,
        reference,
        claim: reference !== null || refundId !== null ? "refund_updated" : "other",
        refundId,
        payload: json,
      };
    }
    const reference = data.reference ?? null;
    return {
      provider: "paystack",
      // Paystack sends no event id: the event type plus the transaction id (or
      // reference) identifies a delivery; retries of it carry the same pair.
      eventKey: `${event}:${data.id ?? reference ?? await sha256Hex(rawBody)}`,
      eventType: event,
      reference,
      claim: event === "charge.success" && reference !== null ? "payment_succeeded" : "other",
      refundId: null,
      payload: json,
    };
  };
}
