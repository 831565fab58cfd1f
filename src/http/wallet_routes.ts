/**
 * `GET /v1/wallet`: the caller's balances per currency and their latest
 * ledger entries, newest first.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { PaymentStore } from "../payments/payment_store.ts";
import { decodeCursor, encodeCursor, parseLimit } from "./cursor.ts";

/** Builds the wallet sub-app (mounted at `/v1/wallet`, behind requireUser). */
export function walletRoutes({ store }: { store: PaymentStore }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const wallet = await store.getWallet(
      c.get("principal").userId,
      parseLimit(c.req.query("limit")),
      decodeCursor(c.req.query("cursor")),
    );
    return c.json({
      balances: wallet.balances,
      entries: wallet.items,
      next_cursor: encodeCursor(wallet.next_cursor),
    });
  });
  return app;
}
