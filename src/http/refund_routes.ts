/**
 * `/v1/payments/:reference/refunds`: staff (the service role) refund a
 * payment, fully or partly, with an Idempotency-Key; staff or the payment's
 * owner list its refunds. Routes validate and translate; the refund use case
 * decides, SQL enforces.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import type { PaymentStore } from "../payments/payment_store.ts";
import type { Refund } from "../payments/refund.ts";
import type { Refunds } from "../payments/refund_payment.ts";
import { requestFingerprint } from "../payments/request_fingerprint.ts";
import { RefundListSchema, RefundSchema } from "./api_schemas.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { jsonBody } from "./json_body.ts";
import {
  DATABASE_PROBLEMS,
  IDEMPOTENT_REPLAYED_HEADER,
  jsonResponse,
  problemResponses,
  SERVICE_AUTH_PROBLEMS,
  USER_AUTH_PROBLEMS,
} from "./openapi_responses.ts";
import { idempotencyKeyRequired, knownReferenceShape, serviceRoleOnly } from "./route_guards.ts";
import { validationHook } from "./validation_hook.ts";

/** The body of `POST /v1/payments/:reference/refunds`. */
export const refundBodySchema = z.object({
  /** Minor units; everything still refundable when absent. */
  amount: z.number().int("amount must be an integer number of minor units").positive()
    .max(Number.MAX_SAFE_INTEGER).optional(),
  reason: z.string().trim().min(1).max(500),
}).strict().openapi({
  description: "`amount` in minor units (everything still refundable when absent); never more than paid minus " +
    "refunded, nor more than the wallet can give back",
  example: { amount: 100000, reason: "customer asked" },
});

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

const _params = z.object({
  reference: z.string().openapi({
    param: { name: "reference", in: "path" },
    example: "pay-3f6c0d2e9b1a4c7e8f00112233445566",
  }),
});

const create = createRoute({
  method: "post",
  path: "/{reference}/refunds",
  tags: ["refunds"],
  summary: "Refund a payment (service role)",
  description: "Full or partial, idempotent per Idempotency-Key (a replay answers the same refund with " +
    "`Idempotent-Replayed: true`). The amount is reserved on the wallet first; the provider's refund is " +
    "asynchronous (`refund.*` webhooks and reconciliation settle it).",
  security: [{ serviceRole: [] }],
  // In this order: the role, the reference, the key, then the body.
  middleware: [serviceRoleOnly, knownReferenceShape, idempotencyKeyRequired, jsonBody()] as const,
  request: {
    params: _params,
    headers: z.object({
      "idempotency-key": z.string().openapi({
        param: { in: "header", required: true },
        description: "1–255 visible ASCII characters, unique per refund",
      }),
    }),
    body: { required: true, content: { "application/json": { schema: refundBodySchema } } },
  },
  responses: {
    201: jsonResponse(RefundSchema, "The refund (or the replay of its creation)", IDEMPOTENT_REPLAYED_HEADER),
    ...problemResponses([
      "idempotency_key_missing",
      "idempotency_key_invalid",
      "malformed_json",
      ...SERVICE_AUTH_PROBLEMS,
      "payment_not_found",
      "payment_not_refundable",
      "insufficient_balance",
      "payload_too_large",
      "unsupported_media_type",
      "validation_failed",
      "idempotency_key_reused",
      "refund_exceeds_payment",
      ...DATABASE_PROBLEMS,
      "provider_unavailable",
    ]),
  },
});

const list = createRoute({
  method: "get",
  path: "/{reference}/refunds",
  tags: ["refunds"],
  summary: "A payment's refunds (service role, or the payment's owner)",
  security: [{ serviceRole: [] }, { userToken: [] }],
  middleware: [knownReferenceShape] as const,
  request: { params: _params },
  responses: {
    200: jsonResponse(RefundListSchema, "The refunds, oldest first"),
    ...problemResponses([...USER_AUTH_PROBLEMS, "payment_not_found", ...DATABASE_PROBLEMS]),
  },
});

/** Builds the refunds sub-app (mounted at `/v1/payments`, behind requireUserOrService). */
export function refundRoutes({ store, refunds }: RefundRoutesDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook() });

  app.openapi(create, async (c) => {
    const { reference } = c.req.valid("param");
    const key = idempotencyKey(c);
    const body = c.req.valid("json");
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

  app.openapi(list, async (c) => {
    const principal = c.get("principal");
    const { reference } = c.req.valid("param");
    const found = await store.listRefunds(reference, principal.role === "service_role" ? null : principal.userId);
    if (found === null) throw new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
    return c.json({ items: found.map(refundView) }, 200);
  });

  return app;
}
