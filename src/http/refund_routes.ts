/**
 * `/v1/payments/:reference/refunds`: staff (the service role) refund a
 * payment, fully or partly, with an Idempotency-Key; staff or the payment's
 * owner list its refunds. Routes validate and translate; the refund use case
 * decides, SQL enforces.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import type { PaymentStore } from "../payments/payment_store.ts";
import type { Refund } from "../payments/refund.ts";
import type { Refunds } from "../payments/refund_payment.ts";
import { requestFingerprint } from "../payments/request_fingerprint.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { readJsonBody } from "./json_body.ts";
import { assertServiceRole } from "./middleware/auth.ts";
import { paymentReference } from "./payment_reference.ts";

/** The body of `POST /v1/payments/:reference/refunds`. */
export const refundBodySchema = z.object({
  /** Minor units; everything still refundable when absent. */
  amount: z.number().int("amount must be an integer number of minor units").positive()
    .max(Number.MAX_SAFE_INTEGER).optional(),
  reason: z.string().trim().min(1).max(500),
}).strict();

/** A refund as the API shows it. */
export function refundView(refund: Refund): Record<string, unknown> {
  return {
    id: refund.id,
    payment_reference: refund.payment_reference,
    amount: refund.amount,
    currency: refund.currency,
    reason: refund.reason,
    state: refund.state,
    provider_refund_id: refund.provider_refund_id,
    failure_reason: refund.failure_reason,
    refund_request_id: refund.refund_request_id,
    created_at: refund.created_at,
    updated_at: refund.updated_at,
    settled_at: refund.settled_at,
  };
}

/** Dependencies of {@linkcode refundRoutes}. */
export interface RefundRoutesDeps {
  store: PaymentStore;
  refunds: Pick<Refunds, "refundPayment">;
}

/** Builds the refunds sub-app (mounted at `/v1/payments`, behind requireUserOrService). */
export function refundRoutes({ store, refunds }: RefundRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/:reference/refunds", async (c) => {
    assertServiceRole(c.get("principal").role);
    const reference = paymentReference(c.req.param("reference"));
    const key = idempotencyKey(c);
    const body = await readJsonBody(c, refundBodySchema);
    const { refund, replayed } = await refunds.refundPayment({
      reference,
      amount: body.amount ?? null,
      reason: body.reason,
      requestKey: `api:${key}`,
      fingerprint: await requestFingerprint("POST", `/v1/payments/${reference}/refunds`, body),
      refundRequestId: null,
      actor: "staff:api",
    });
    if (replayed) c.header("Idempotent-Replayed", "true");
    return c.json(refundView(refund), 201);
  });

  app.get("/:reference/refunds", async (c) => {
    const principal = c.get("principal");
    const reference = paymentReference(c.req.param("reference"));
    const list = await store.listRefunds(reference, principal.role === "service_role" ? null : principal.userId);
    if (list === null) throw new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
    return c.json({ items: list.map(refundView) });
  });

  return app;
}
