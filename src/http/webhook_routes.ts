/**
 * `POST /v1/webhooks/:provider`. The body is read once, as text, and handed
 * untouched to the provider's parser: the signature covers those exact
 * bytes. The parser turns it into a neutral event; the use case decides.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { WebhookOutcome } from "../payments/handle_provider_event.ts";
import type { ProviderEvent } from "../payments/provider_event.ts";

/** Authenticates and parses one provider's webhook request. */
export type WebhookParser = (request: { rawBody: string; signature: string | null }) => Promise<ProviderEvent>;

/** Dependencies of {@linkcode webhookRoutes}. */
export interface WebhookRoutesDeps {
  /** The Paystack parser (`x-paystack-signature`). */
  paystack: WebhookParser;
  handle: (event: ProviderEvent) => Promise<{ outcome: WebhookOutcome }>;
  metrics: Metrics;
}

/** Builds the webhooks sub-app (mounted at `/v1/webhooks`). */
export function webhookRoutes({ paystack, handle, metrics }: WebhookRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/paystack", async (c) => {
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
    const { outcome } = await handle(event);
    return c.json({ received: true, outcome });
  });
  return app;
}
