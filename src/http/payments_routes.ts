/**
 * `/v1/payments`: initialize (idempotent), read one, list, verify. Routes
 * validate and translate; the use cases decide.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./app_env.ts";
import type { CurrencyRule } from "../config.ts";
import { AppError } from "../errors.ts";
import type { InitializePaymentInput, InitializePaymentOutput } from "../payments/initialize_payment.ts";
import type { Payment, PaymentStore } from "../payments/payment_store.ts";
import { decodeCursor, encodeCursor, parseLimit } from "./cursor.ts";
import { readJsonBody } from "./json_body.ts";
import { paymentView } from "./payment_view.ts";

/** 1–255 visible ASCII characters (IETF draft; Stripe's limit). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Paystack's reference alphabet, and our own references' length bound. */
const REFERENCE = /^[A-Za-z0-9.=-]{1,100}$/;
/** Metadata is stored and sent to the provider: keep it small. */
const METADATA_MAX_BYTES = 4096;

/** Dependencies of {@linkcode paymentsRoutes}. */
export interface PaymentsRoutesDeps {
  store: PaymentStore;
  currencies: readonly CurrencyRule[];
  initialize: (input: InitializePaymentInput) => Promise<InitializePaymentOutput>;
  verify: (input: { userId: string; reference: string }) => Promise<Payment>;
}

/** The body schema of `POST /v1/payments`, bound to the configured currencies. */
export function createPaymentBodySchema(currencies: readonly CurrencyRule[]) {
  const byCode = new Map(currencies.map((c) => [c.code, c]));
  return z.object({
    amount: z.number().int("amount must be an integer number of minor units").positive().max(Number.MAX_SAFE_INTEGER),
    currency: z.string().refine((c) => byCode.has(c), `currency must be one of ${[...byCode.keys()].join(", ")}`),
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
  });
}

function _reference(text: string): string {
  if (!REFERENCE.test(text)) throw new AppError("payment_not_found", { detail: `No payment with reference ${text}` });
  return text;
}

/** Builds the payments sub-app (mounted at `/v1/payments`, behind requireUser). */
export function paymentsRoutes({ store, currencies, initialize, verify }: PaymentsRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const bodySchema = createPaymentBodySchema(currencies);

  app.post("/", async (c) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined) throw new AppError("idempotency_key_missing", { detail: "Send an Idempotency-Key header" });
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new AppError("idempotency_key_invalid", {
        detail: "Idempotency-Key must be 1–255 visible ASCII characters",
      });
    }
    const body = await readJsonBody(c, bodySchema);
    const principal = c.get("principal");
    const email = typeof principal.claims.email === "string" ? principal.claims.email : null;
    const result = await initialize({
      userId: principal.userId,
      tokenEmail: email,
      idempotencyKey: key,
      method: "POST",
      path: "/v1/payments",
      body,
    });
    const headers: Record<string, string> = {
      "Content-Type": result.status >= 400 ? "application/problem+json" : "application/json",
    };
    if (result.replayed) headers["Idempotent-Replayed"] = "true";
    return c.body(JSON.stringify(result.body), result.status as 201, headers);
  });

  app.get("/", async (c) => {
    const page = await store.listPayments(
      c.get("principal").userId,
      parseLimit(c.req.query("limit")),
      decodeCursor(c.req.query("cursor")),
    );
    return c.json({ items: page.items.map(paymentView), next_cursor: encodeCursor(page.next_cursor) });
  });

  app.get("/:reference", async (c) => {
    const reference = _reference(c.req.param("reference"));
    const payment = await store.getPayment(c.get("principal").userId, reference);
    if (!payment) throw new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
    return c.json(paymentView(payment));
  });

  app.post("/:reference/verify", async (c) => {
    const payment = await verify({
      userId: c.get("principal").userId,
      reference: _reference(c.req.param("reference")),
    });
    return c.json(paymentView(payment));
  });

  return app;
}
