/**
 * `POST /v1/webhooks/:provider`. The body is read once, as text, and handed
 * untouched to the provider's parser: the signature covers those exact
 * bytes. The parser turns it into a neutral event; the use case decides.
 *
 * The route declares the event's schema for the OpenAPI document only (as a
 * `$ref`, which the framework does not validate): nothing may parse the body
 * before its signature is checked.
 *
 * @module
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import { assertJsonDepth } from "./json_depth.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { WebhookOutcome } from "../payments/handle_provider_event.ts";
import type { ProviderEvent } from "../payments/provider_event.ts";
import { PaystackEventSchema, WebhookAckSchema } from "./api_schemas.ts";
import { DATABASE_PROBLEMS, jsonResponse, problemResponses, RATE_LIMIT_HEADERS } from "./openapi_responses.ts";

/** Authenticates and parses one provider's webhook request. */
export type WebhookParser = (request: { rawBody: string; signature: string | null }) => Promise<ProviderEvent>;

/** Dependencies of {@linkcode webhookRoutes}. */
export interface WebhookRoutesDeps {
  /** The Paystack parser (`x-paystack-signature`). */
  paystack: WebhookParser;
  handle: (event: ProviderEvent) => Promise<{ outcome: WebhookOutcome }>;
  metrics: Metrics;
  /** Rate limiter of the webhook endpoints (per client IP, generous). @default none */
  rateLimit?: MiddlewareHandler<AppEnv> | undefined;
}

const paystackRoute = (rateLimit: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: "post",
    path: "/paystack",
    tags: ["webhooks"],
    summary: "Paystack events",
    description: "Authenticated by `x-paystack-signature` over the raw body, checked before anything is parsed. " +
      "`charge.success` is confirmed with Paystack's verify API and settled; every authentic event is stored " +
      "(deduplicated) and answered 200, duplicates and unknown references included. Rate-limited per client IP " +
      "with a generous limit, so a provider's retry storm is never dropped. Give Paystack " +
      "`<base URL>/v1/webhooks/paystack`.",
    security: [{ paystackSignature: [] }],
    middleware: [rateLimit] as const,
    request: {
      body: {
        required: true,
        content: { "application/json": { schema: { $ref: "#/components/schemas/PaystackEvent" } } },
      },
    },
    responses: {
      200: jsonResponse(WebhookAckSchema, "Received (stored, and settled when it is a charge.success)", {
        ...RATE_LIMIT_HEADERS,
      }),
      ...problemResponses(
        [
          "malformed_json",
          "bad_request",
          "invalid_signature",
          "payload_too_large",
          "rate_limited",
          ...DATABASE_PROBLEMS,
        ],
        { headers: { rate_limited: RATE_LIMIT_HEADERS } },
      ),
    },
  });

/** Builds the webhooks sub-app (mounted at `/v1/webhooks`). */
export function webhookRoutes(
  { paystack, handle, metrics, rateLimit = async (_c, next) => await next() }: WebhookRoutesDeps,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openAPIRegistry.register("PaystackEvent", PaystackEventSchema);
  app.openapi(paystackRoute(rateLimit), async (c) => {
    const rawBody = await c.req.text();
    let event: ProviderEvent;
    try {
      event = await paystack({ rawBody, signature: c.req.header("x-paystack-signature") ?? null });
    } catch (error) {
      if (error instanceof AppError && error.code === "invalid_signature") {
        metrics.inc("webhooks_total", { provider: "paystack", outcome: "bad_signature" });
      }
      throw error;
    }
    // Authentic, but no event Paystack sends nests this deep: refused, never a 5xx downstream.
    assertJsonDepth(event.payload);
    const { outcome } = await handle(event);
    return c.json({ received: true as const, outcome }, 200);
  });
  return app;
}
