/**
 * `POST /v1/wallet/debits`: the SMS platform (service role) spends a user's
 * credit, with an Idempotency-Key. 201 with the debit; a replay answers the
 * same debit with `Idempotent-Replayed: true`; 409 `insufficient_balance`
 * when the spendable balance (balance − reserved for refunds) is too low,
 * nothing written.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./app_env.ts";
import type { CurrencyRule } from "../config.ts";
import type { Debit } from "../payments/refund.ts";
import type { DebitWalletRequest } from "../payments/debit_wallet.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { readJsonBody } from "./json_body.ts";
import { assertServiceRole } from "./middleware/auth.ts";

/** The body schema of `POST /v1/wallet/debits`, bound to the configured currencies. */
export function createDebitBodySchema(currencies: readonly CurrencyRule[]) {
  const codes = new Set(currencies.map((c) => c.code));
  return z.object({
    user_id: z.guid(),
    amount: z.number().int("amount must be an integer number of minor units").positive().max(Number.MAX_SAFE_INTEGER),
    currency: z.string().refine((c) => codes.has(c), `currency must be one of ${[...codes].join(", ")}`),
    reason: z.string().trim().min(1).max(500),
  }).strict();
}

/** Dependencies of {@linkcode debitRoutes}. */
export interface DebitRoutesDeps {
  currencies: readonly CurrencyRule[];
  debit: (request: DebitWalletRequest) => Promise<{ replayed: boolean; debit: Debit }>;
}

/** Builds the debits sub-app (mounted at `/v1/wallet`, behind requireUserOrService). */
export function debitRoutes({ currencies, debit }: DebitRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const bodySchema = createDebitBodySchema(currencies);
  app.post("/debits", async (c) => {
    assertServiceRole(c.get("principal").role);
    const key = idempotencyKey(c);
    const body = await readJsonBody(c, bodySchema);
    const result = await debit({
      userId: body.user_id,
      amount: body.amount,
      currency: body.currency,
      reason: body.reason,
      idempotencyKey: key,
    });
    if (result.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(result.debit, 201);
  });
  return app;
}
