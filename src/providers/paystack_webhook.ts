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

/** A webhook request as received: the body's exact text and the `x-paystack-signature` header. */
export interface PaystackWebhookRequest {
  rawBody: string;
  signature: string | null;
}

/**
 * Builds the parser.
 *
 * @param secretKey the Paystack secret key (Paystack signs webhooks with it; there is no separate webhook secret)
 * @returns a function that resolves with the event, or rejects with
 *   `invalid_signature` (401), `malformed_json` or `bad_request` (400)
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
    const reference = data.reference ?? null;
    return {
      provider: "paystack",
      // Paystack sends no event id: the event type plus the transaction id (or
      // reference) identifies a delivery; retries of it carry the same pair.
      eventKey: `${event}:${data.id ?? reference ?? await sha256Hex(rawBody)}`,
      eventType: event,
      reference,
      claim: event === "charge.success" && reference !== null ? "payment_succeeded" : "other",
      payload: json,
    };
  };
}
