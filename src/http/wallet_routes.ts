/**
 * `GET /v1/wallet`: the caller's balances per currency and their latest
 * ledger entries, newest first.
 *
 * @module
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import type { PaymentStore } from "../payments/payment_store.ts";
import { WalletSchema } from "./api_schemas.ts";
import { encodeCursor, pageQuerySchema } from "./cursor.ts";
import { DATABASE_PROBLEMS, jsonResponse, problemResponses, USER_AUTH_PROBLEMS } from "./openapi_responses.ts";
import { validationHook } from "./validation_hook.ts";

const read = createRoute({
  method: "get",
  path: "/",
  tags: ["wallet"],
  summary: "Your balances and ledger entries",
  description: "Balances per currency, and the ledger (credits, refunds, debits) newest first, a page at a time.",
  security: [{ userToken: [] }],
  request: { query: pageQuerySchema },
  responses: {
    200: jsonResponse(WalletSchema, "Your wallet"),
    ...problemResponses([...USER_AUTH_PROBLEMS, "validation_failed", ...DATABASE_PROBLEMS]),
  },
});

/** Builds the wallet sub-app (mounted at `/v1/wallet`, behind requireUser). */
export function walletRoutes({ store }: { store: PaymentStore }): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook() });
  app.openapi(read, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const wallet = await store.getWallet(c.get("principal").userId, limit, cursor);
    return c.json({
      balances: wallet.balances,
      entries: wallet.items,
      next_cursor: encodeCursor(wallet.next_cursor),
    }, 200);
  });
  return app;
}
