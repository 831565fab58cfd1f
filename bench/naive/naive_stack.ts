/**
 * The naive service (`naive_service.ts`) beside the real one, on the same
 * database, the same sandbox provider and the same kind of RPC gateway (its
 * own instance, exposing the `naive` schema, on the same connection pool).
 *
 * @module
 */
import { signDevToken } from "../../src/auth/dev_token.ts";
import { DEV_JWT_SECRET } from "../../src/config.ts";
import { serveRpcGateway } from "../../src/local/rpc_gateway.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { paystackSignature } from "../support/paystack_hmac.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import type { PaidPayment } from "../support/payments_fixture.ts";
import { runPool } from "../support/run_pool.ts";
import { createNaiveService } from "./naive_service.ts";

/** The naive service, running. */
export interface NaiveStack {
  /** Base URL; its routes have the same paths as the service's. */
  url: string;
  /** Paid, not yet credited payments in `naive.payments` (one wallet per user, balance 0). */
  createPaidPayments(count: number, options?: { userId?: string; amount?: number }): Promise<PaidPayment[]>;
  /** How the naive ledger and wallets came out for `payments`. */
  audit(payments: readonly PaidPayment[]): Promise<NaiveAudit>;
  close(): Promise<void>;
}

/** Double credits and lost updates of a naive run. */
export interface NaiveAudit {
  payments: number;
  /** Payments with at least one credit row. */
  credited: number;
  /** Payments with two or more credit rows. */
  creditedTwiceOrMore: number;
  /** Credit rows beyond the first, summed. */
  extraCredits: number;
  /** Σ balances − Σ amounts paid (minor units): > 0 money made up, < 0 money lost. */
  balanceError: number;
  /** Σ amounts paid (minor units). */
  paid: number;
  /** Σ credit rows' amounts − Σ balances: credits written to the ledger but lost from the balance. */
  lostUpdates: number;
}

const NAIVE_SCHEMA = new URL("./naive_schema.sql", import.meta.url);

/** Creates the `naive` schema in the stack's database and serves the naive app. */
export async function startNaiveStack(stack: BenchStack): Promise<NaiveStack> {
  const db = stack.database.db;
  await db.exec(await Deno.readTextFile(NAIVE_SCHEMA));
  const jwtSecret = stack.config.auth.jwtSecret ?? DEV_JWT_SECRET;
  const gateway = await serveRpcGateway({ db, jwtSecret, port: 0, schemas: ["naive"], extraSearchPath: ["public"] });
  const provider = createPaystackProvider({
    secretKey: stack.config.provider.secretKey,
    baseUrl: stack.config.provider.baseUrl,
    timeoutMs: stack.config.provider.timeoutMs,
  });
  const app = createNaiveService({
    gatewayUrl: gateway.url,
    serviceRoleKey: await signDevToken({ secret: jwtSecret, role: "service_role", expiresInSeconds: 86_400 }),
    jwtSecret,
    paystackSecret: stack.config.provider.secretKey,
    provider,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const sandbox = stack.runtime.sandbox!;

  return {
    url,
    async createPaidPayments(count, { userId, amount = 10_000 } = {}) {
      const out: PaidPayment[] = new Array(count);
      const sharedToken = userId ? await stack.userToken(userId) : null;
      sandbox.faults.failWebhooks({ times: Math.min(count, 10_000), status: 500 });
      try {
        const run = await runPool(Array.from({ length: count }, (_, i) => i), async (i) => {
          const owner = userId ?? crypto.randomUUID();
          const reference = `naive-${crypto.randomUUID().replaceAll("-", "")}`;
          await db.query("insert into naive.wallets (user_id) values ($1) on conflict do nothing", [owner]);
          await db.query(
            "insert into naive.payments (reference, user_id, amount, currency) values ($1, $2, $3, 'NGN')",
            [reference, owner, amount],
          );
          const checkout = await provider.initialize({
            reference,
            amount,
            currency: "NGN",
            email: "payer@example.test",
          });
          const paid = await fetch(checkout.authorizationUrl, {
            method: "POST",
            headers: { Accept: "application/json" },
            body: new URLSearchParams({ outcome: "success" }),
          });
          const settled = await paid.json();
          if (paid.status !== 200) throw new Error(`checkout answered ${paid.status}`);
          const webhookBody = JSON.stringify({ event: "charge.success", data: settled.data });
          out[i] = {
            userId: owner,
            token: sharedToken ?? await stack.userToken(owner),
            reference,
            amount,
            currency: "NGN",
            webhookBody,
            signature: await paystackSignature(stack.config.provider.secretKey, webhookBody),
          };
        }, { concurrency: 8, deadlineMs: 600_000 });
        if (run.errors > 0) throw new Error(`Naive set-up failed: ${run.firstErrors.join("; ")}`);
      } finally {
        sandbox.faults.reset();
        await sandbox.idle();
      }
      return out;
    },
    async audit(payments) {
      const refs = payments.map((p) => p.reference);
      const users = [...new Set(payments.map((p) => p.userId))];
      const [row] = await db.query<Record<string, string>>(
        `with c as (
           select reference, count(*) as n, sum(amount) as amount
           from naive.transactions where reference = any($1::text[]) group by reference
         )
         select (select count(*) from c) as credited,
                (select count(*) from c where n > 1) as twice,
                (select coalesce(sum(n - 1), 0) from c) as extra,
                (select coalesce(sum(amount), 0) from c) as ledger,
                (select coalesce(sum(balance), 0) from naive.wallets where user_id = any($2::uuid[])) as balance`,
        [refs, users],
      );
      const paid = payments.reduce((sum, p) => sum + p.amount, 0);
      return {
        payments: payments.length,
        credited: Number(row!.credited),
        creditedTwiceOrMore: Number(row!.twice),
        extraCredits: Number(row!.extra),
        balanceError: Number(row!.balance) - paid,
        paid,
        lostUpdates: Number(row!.ledger) - Number(row!.balance),
      };
    },
    async close() {
      await server.shutdown();
      await gateway.close();
    },
  };
}
