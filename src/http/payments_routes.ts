/**
 * `/v1/payments`: initialize (idempotent), read one, list, verify. Routes
 * validate and translate; the use cases decide.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { CurrencyRule } from "../config.ts";
import { AppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { InitializePaymentInput, InitializePaymentOutput } from "../payments/initialize_payment.ts";
import type { Payment, PaymentStore } from "../payments/payment_store.ts";
import { PaymentCreatedSchema, PaymentPageSchema, PaymentSchema } from "./api_schemas.ts";
import { encodeCursor, pageQuerySchema } from "./cursor.ts";
import { jsonBody } from "./json_body.ts";
import {
  DATABASE_PROBLEMS,
  IDEMPOTENT_REPLAYED_HEADER,
  jsonResponse,
  problemResponses,
  RATE_LIMIT_HEADERS,
  USER_AUTH_PROBLEMS,
} from "./openapi_responses.ts";
import { IDEMPOTENCY_KEY } from "./idempotency_key.ts";
import { REFERENCE_PATTERN } from "../payments/provider_reference.ts";
import { paymentView } from "./payment_view.ts";
import { idempotencyKeyRequired } from "./route_guards.ts";
import { validationHook } from "./validation_hook.ts";

/** Metadata is stored and sent to the provider: keep it small. */
const METADATA_MAX_BYTES = 4096;

/** Dependencies of {@linkcode paymentsRoutes}. */
export interface PaymentsRoutesDeps {
  store: PaymentStore;
  currencies: readonly CurrencyRule[];
  initialize: (input: InitializePaymentInput) => Promise<InitializePaymentOutput>;
  verify: (input: { userId: string; reference: string }) => Promise<Payment>;
  metrics: Metrics;
  /** Rate limiters of the routes that cost a provider call (per user). @default none */
  rateLimits?: { initialize?: MiddlewareHandler<AppEnv> | undefined; verify?: MiddlewareHandler<AppEnv> | undefined };
}

/** The body schema of `POST /v1/payments`, bound to the configured currencies. */
export function createPaymentBodySchema(currencies: readonly CurrencyRule[]) {
  const byCode = new Map(currencies.map((c) => [c.code, c]));
  return z.object({
    amount: z.number().int("amount must be an integer number of minor units").positive().max(Number.MAX_SAFE_INTEGER),
    currency: z.string().refine((c) => byCode.has(c), `currency must be one of ${[...byCode.keys()].join(", ")}`)
      .openapi({ enum: [...byCode.keys()] }),
    email: z.string().email().max(254).optional(),
    metadata: z.record(z.string(), z.unknown()).refine(
      (m) => new TextEncoder().encode(JSON.stringify(m)).length <= METADATA_MAX_BYTES,
      `metadata must be at most ${METADATA_MAX_BYTES} bytes of JSON`,
    ).optional(),
  }).strict().superRefine((body, ctx) => {
    const rule = byCode.get(body.currency);
    if (rule && (body.amount < rule.min || body.amount > rule.max)) {
      ctx.addIssue({
        code: "custom",
        path: ["amount"],
        message: `amount must be between ${rule.min} and ${rule.max} minor units of ${rule.code}`,
      });
    }
  }).openapi({
    description: `\`amount\` in minor units within the currency's bounds (${
      currencies.map((c) => `${c.code} ${c.min}–${c.max}`).join(", ")
    }); \`email\` defaults to the token's e-mail (one of the two is required); unknown fields are refused`,
    example: { amount: 500000, currency: "NGN", metadata: { sms_bundle: "gold" } },
  });
}

/** The `{reference}` path parameter: an unknown shape is a payment we do not have (404), not a 422. */
const referenceParams = z.object({
  reference: z.string().regex(REFERENCE_PATTERN).openapi({
    param: { name: "reference", in: "path" },
    example: "pay-3f6c0d2e9b1a4c7e8f00112233445566",
  }),
});

/** Every path parameter here is a payment reference: a malformed one is a payment we do not have (404). */
const _validationHook = validationHook({
  param: (_error, c) =>
    new AppError("payment_not_found", { detail: `No payment with reference ${c.req.param("reference")}` }),
});

const _security = [{ userToken: [] }];
const _tags = ["payments"];

/** Builds the payments sub-app (mounted at `/v1/payments`, behind requireUser). */
export function paymentsRoutes(
  { store, currencies, initialize, verify, metrics, rateLimits = {} }: PaymentsRoutesDeps,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: _validationHook });
  const noLimit: MiddlewareHandler<AppEnv> = async (_c, next) => await next();

  const create = createRoute({
    method: "post",
    path: "/",
    tags: _tags,
    summary: "Start a payment",
    description: "Idempotent: a retry with the same Idempotency-Key gets the first answer (same status and body, " +
      "`Idempotent-Replayed: true`), never a second payment. Send the customer to `authorization_url`. " +
      "Rate-limited per user (each new payment costs a provider call).",
    security: _security,
    // In this order: the rate limit, then the key (its refusals are never stored), then the body.
    middleware: [rateLimits.initialize ?? noLimit, idempotencyKeyRequired, jsonBody()] as const,
    request: {
      headers: z.object({
        "idempotency-key": z.string().regex(IDEMPOTENCY_KEY).openapi({
          // Named as Hono reads headers (lower case); header names are case-insensitive.
          param: { in: "header", required: true },
          description: "1–255 visible ASCII characters, unique per payment (a UUID v4 is recommended); " +
            "scoped per user, stored responses replayed for 24 hours",
          example: "0d6f7f5e-6a3c-4b0e-9c83-3f0f8d6f1a11",
        }),
      }),
      body: {
        required: true,
        content: { "application/json": { schema: createPaymentBodySchema(currencies) } },
      },
    },
    responses: {
      201: jsonResponse(PaymentCreatedSchema, "Created (or the replay of a creation)", {
        ...IDEMPOTENT_REPLAYED_HEADER,
        ...RATE_LIMIT_HEADERS,
      }),
      ...problemResponses([
        "idempotency_key_missing",
        "idempotency_key_invalid",
        "malformed_json",
        ...USER_AUTH_PROBLEMS,
        "idempotency_key_in_use",
        "payment_not_payable",
        "payload_too_large",
        "unsupported_media_type",
        "validation_failed",
        "idempotency_key_reused",
        "provider_rejected",
        "rate_limited",
        ...DATABASE_PROBLEMS,
        "provider_unavailable",
      ], {
        headers: {
          payment_not_payable: IDEMPOTENT_REPLAYED_HEADER,
          provider_rejected: IDEMPOTENT_REPLAYED_HEADER,
          rate_limited: RATE_LIMIT_HEADERS,
        },
      }),
    },
  });
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const principal = c.get("principal");
    const email = typeof principal.claims.email === "string" ? principal.claims.email : null;
    let result: InitializePaymentOutput;
    try {
      result = await initialize({
        userId: principal.userId,
        tokenEmail: email,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        method: "POST",
        path: "/v1/payments",
        body,
      });
    } catch (error) {
      if (error instanceof AppError && error.code === "idempotency_key_in_use") {
        metrics.inc("idempotency_requests_total", { outcome: "conflict" });
      } else if (error instanceof AppError && error.code === "idempotency_key_reused") {
        metrics.inc("idempotency_requests_total", { outcome: "mismatch" });
      }
      throw error;
    }
    metrics.inc("idempotency_requests_total", { outcome: result.replayed ? "replay" : "first" });
    if (result.status === 201 && !result.replayed) {
      metrics.inc("payment_transitions_total", { from: "none", to: "pending", actor: "api" });
    }
    const headers: Record<string, string> = {
      "Content-Type": result.status >= 400 ? "application/problem+json" : "application/json",
    };
    if (result.replayed) headers["Idempotent-Replayed"] = "true";
    return c.body(JSON.stringify(result.body), result.status as 201, headers);
  });

  const list = createRoute({
    method: "get",
    path: "/",
    tags: _tags,
    summary: "Your payments, newest first",
    security: _security,
    request: { query: pageQuerySchema },
    responses: {
      200: jsonResponse(PaymentPageSchema, "A page of your payments"),
      ...problemResponses([...USER_AUTH_PROBLEMS, "validation_failed", ...DATABASE_PROBLEMS]),
    },
  });
  app.openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page = await store.listPayments(c.get("principal").userId, limit, cursor);
    return c.json({ items: page.items.map(paymentView), next_cursor: encodeCursor(page.next_cursor) }, 200);
  });

  const read = createRoute({
    method: "get",
    path: "/{reference}",
    tags: _tags,
    summary: "One of your payments, with its audit trail",
    description: "Someone else's payment is 404, exactly like a missing one.",
    security: _security,
    request: { params: referenceParams },
    responses: {
      200: jsonResponse(PaymentSchema, "The payment"),
      ...problemResponses([...USER_AUTH_PROBLEMS, "payment_not_found", ...DATABASE_PROBLEMS]),
    },
  });
  app.openapi(read, async (c) => {
    const { reference } = c.req.valid("param");
    const payment = await store.getPayment(c.get("principal").userId, reference);
    if (!payment) throw new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
    return c.json(paymentView(payment), 200);
  });

  const confirm = createRoute({
    method: "post",
    path: "/{reference}/verify",
    tags: _tags,
    summary: "Confirm a payment with the provider now",
    description: "Settles it through the same path as the webhook (never credits twice). A settled payment answers " +
      "from the database; any other, a failed one included, is confirmed with the provider (a late success is " +
      "credited). Rate-limited per user (it costs a provider call).",
    security: _security,
    middleware: [rateLimits.verify ?? noLimit] as const,
    request: { params: referenceParams },
    responses: {
      200: jsonResponse(PaymentSchema, "The payment after confirmation", RATE_LIMIT_HEADERS),
      ...problemResponses([
        ...USER_AUTH_PROBLEMS,
        "payment_not_found",
        "payment_locked",
        "rate_limited",
        ...DATABASE_PROBLEMS,
        "provider_error",
        "provider_unavailable",
      ], { headers: { rate_limited: RATE_LIMIT_HEADERS } }),
    },
  });
  app.openapi(confirm, async (c) => {
    const payment = await verify({ userId: c.get("principal").userId, reference: c.req.valid("param").reference });
    return c.json(paymentView(payment), 200);
  });

  return app;
}
