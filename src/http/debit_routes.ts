/**
 * `POST /v1/wallet/debits`: the SMS platform (service role) spends a user's
 * credit, with an Idempotency-Key. 201 with the debit; a replay answers the
 * same debit with `Idempotent-Replayed: true`; 409 `insufficient_balance`
 * when the spendable balance (balance − reserved for refunds) is too low,
 * nothing written.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import type { CurrencyRule } from "../config.ts";
import type { Debit } from "../payments/refund.ts";
import type { DebitWalletRequest } from "../payments/debit_wallet.ts";
import { DebitSchema } from "./api_schemas.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { jsonBody } from "./json_body.ts";
import {
  DATABASE_PROBLEMS,
  IDEMPOTENT_REPLAYED_HEADER,
  jsonResponse,
  problemResponses,
  SERVICE_AUTH_PROBLEMS,
} from "./openapi_responses.ts";
import { idempotencyKeyRequired, serviceRoleOnly } from "./route_guards.ts";
import { validationHook } from "./validation_hook.ts";

/** The body schema of `POST /v1/wallet/debits`, bound to the configured currencies. */
export function createDebitBodySchema(currencies: readonly CurrencyRule[]) {
  const codes = new Set(currencies.map((c) => c.code));
  return z.object({
    user_id: z.guid(),
    amount: z.number().int("amount must be an integer number of minor units").positive().max(Number.MAX_SAFE_INTEGER),
    currency: z.string().refine((c) => codes.has(c), `currency must be one of ${[...codes].join(", ")}`)
      .openapi({ enum: [...codes] }),
    reason: z.string().trim().min(1).max(500),
  }).strict().openapi({
    example: { user_id: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", amount: 1000, currency: "NGN", reason: "sms batch 42" },
  });
}

/** Dependencies of {@linkcode debitRoutes}. */
export interface DebitRoutesDeps {
  currencies: readonly CurrencyRule[];
  debit: (request: DebitWalletRequest) => Promise<{ replayed: boolean; debit: Debit }>;
}

/** Builds the debits sub-app (mounted at `/v1/wallet`, behind requireUserOrService). */
export function debitRoutes({ currencies, debit }: DebitRoutesDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook() });
  const route = createRoute({
    method: "post",
    path: "/debits",
    tags: ["wallet"],
    summary: "Spend a user's credit (service role)",
    description: "One transaction on the locked wallet row, never below what the user may spend (the balance " +
      "minus what pending refunds hold). Idempotent per (user, Idempotency-Key).",
    security: [{ serviceRole: [] }],
    // In this order: the role, the key, then the body.
    middleware: [serviceRoleOnly, idempotencyKeyRequired, jsonBody()] as const,
    request: {
      headers: z.object({
        "idempotency-key": z.string().openapi({
          param: { in: "header", required: true },
          description: "1–255 visible ASCII characters, unique per debit and user",
        }),
      }),
      body: { required: true, content: { "application/json": { schema: createDebitBodySchema(currencies) } } },
    },
    responses: {
      201: jsonResponse(DebitSchema, "The debit (or the replay of it)", IDEMPOTENT_REPLAYED_HEADER),
      ...problemResponses([
        "idempotency_key_missing",
        "idempotency_key_invalid",
        "malformed_json",
        ...SERVICE_AUTH_PROBLEMS,
        "insufficient_balance",
        "payload_too_large",
        "unsupported_media_type",
        "validation_failed",
        "idempotency_key_reused",
        ...DATABASE_PROBLEMS,
      ]),
    },
  });
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const result = await debit({
      userId: body.user_id,
      amount: body.amount,
      currency: body.currency,
      reason: body.reason,
      idempotencyKey: idempotencyKey(c),
    });
    if (result.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(result.debit, 201);
  });
  return app;
}
