/**
 * `POST /v1/webhooks/paystack`. The body is read once, as text, and handed
 * over untouched: the signature covers those exact bytes.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { WebhookOutcome } from "../payments/handle_paystack_webhook.ts";

/** Dependencies of {@linkcode webhookRoutes}. */
export interface WebhookRoutesDeps {
  paystack: (input: { rawBody: string; signature: string | null }) => Promise<{ outcome: WebhookOutcome }>;
}

/** Builds the webhooks sub-app (mounted at `/v1/webhooks`). */
export function webhookRoutes({ paystack }: WebhookRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/paystack", async (c) => {
    const rawBody = await c.req.text();
    const { outcome } = await paystack({ rawBody, signature: c.req.header("x-paystack-signature") ?? null });
    return c.json({ received: true, outcome });
  });
  return app;
}
