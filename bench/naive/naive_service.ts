/**
 * The naive credit, as a tutorial writes it, served over HTTP with the same
 * routes as ours (`POST /v1/webhooks/paystack`, `POST
 * /v1/payments/:reference/verify`), the same signature check, the same JWT
 * verifier, the same provider adapter and the same supabase-js → RPC gateway
 * → Postgres path. Only the credit differs: read, check in TypeScript, write.
 *
 * ```ts
 * const payment = await get_payment(ref);            // SELECT
 * if (payment.status !== "pending") return;          // "already processed?"
 * const tx = await paystack.verify(ref);             // trust the provider, not the event
 * const wallet = await get_wallet(payment.user_id);  // SELECT
 * await set_balance(user, wallet.balance + amount);  // UPDATE … SET balance = <computed in TS>
 * await add_transaction(ref, user, amount);          // INSERT
 * await set_status(ref, "success");                  // UPDATE
 * ```
 *
 * Every step is its own request and transaction. Two racers that both read
 * `pending` both credit (double credit); two credits of one wallet that both
 * read the old balance lose one of them (lost update). Not part of the
 * service: it exists only to be measured against it.
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import { Hono } from "hono";
import { createJwtVerifier } from "../../src/auth/jwt_verifier.ts";
import { paystackSignatureMatches } from "../support/paystack_hmac.ts";
import type { PaymentProvider } from "../../src/payments/payment_provider.ts";

/** Dependencies of {@linkcode createNaiveService}. */
export interface NaiveServiceDeps {
  /** The RPC gateway exposing the `naive` schema. */
  gatewayUrl: string;
  serviceRoleKey: string;
  jwtSecret: string;
  paystackSecret: string;
  provider: PaymentProvider;
}

interface _NaivePayment {
  reference: string;
  user_id: string;
  amount: number;
  currency: string;
  status: string;
}

/** What one naive credit attempt did. */
export type NaiveOutcome = "credited" | "already" | "not_paid" | "unknown";

/** Builds the naive app. */
export function createNaiveService(deps: NaiveServiceDeps): Hono {
  const supabase = createClient(deps.gatewayUrl, deps.serviceRoleKey, {
    db: { schema: "naive" },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const verifier = createJwtVerifier({ secret: deps.jwtSecret });
  const call = async <T>(fn: string, args: Record<string, unknown>): Promise<T> => {
    const { data, error } = await supabase.rpc(fn, args);
    if (error) throw new Error(`naive ${fn}: ${error.message}`);
    return data as T;
  };

  async function credit(reference: string): Promise<NaiveOutcome> {
    const payment = await call<_NaivePayment | null>("get_payment", { p_reference: reference });
    if (!payment) return "unknown";
    if (payment.status !== "pending") return "already";
    const verified = await deps.provider.verify(reference);
    if (verified.status !== "success" || verified.amount !== payment.amount) return "not_paid";
    const wallet = await call<{ balance: number }>("get_wallet", { p_user_id: payment.user_id });
    await call("set_balance", { p_user_id: payment.user_id, p_balance: Number(wallet.balance) + payment.amount });
    await call("add_transaction", { p_reference: reference, p_user_id: payment.user_id, p_amount: payment.amount });
    await call("set_status", { p_reference: reference, p_status: "success" });
    return "credited";
  }

  const app = new Hono();
  app.post("/v1/webhooks/paystack", async (c) => {
    const raw = await c.req.text();
    if (!(await paystackSignatureMatches(deps.paystackSecret, raw, c.req.header("x-paystack-signature") ?? null))) {
      return c.json({ error: "bad signature" }, 401);
    }
    const event = JSON.parse(raw) as { event?: string; data?: { reference?: string } };
    if (event.event !== "charge.success" || !event.data?.reference) return c.json({ received: true });
    return c.json({ received: true, outcome: await credit(event.data.reference) });
  });
  app.post("/v1/payments/:reference/verify", async (c) => {
    const token = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "");
    let userId: string;
    try {
      userId = (await verifier.verify(token, { audience: "authenticated" })).userId;
    } catch {
      return c.json({ error: "unauthorized" }, 401);
    }
    const reference = c.req.param("reference");
    const payment = await call<_NaivePayment | null>("get_payment", { p_reference: reference });
    if (!payment || payment.user_id !== userId) return c.json({ error: "not found" }, 404);
    const outcome = await credit(reference);
    return c.json({ reference, outcome });
  });
  app.onError((error, c) => c.json({ error: error.message }, 500));
  return app;
}
