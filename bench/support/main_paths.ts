/**
 * The three credit paths every comparison uses: the service over HTTP, the
 * same SQL functions through a driver (the database's own limit), and the
 * naive design over HTTP.
 *
 * @module
 */
import type { NaiveStack } from "../naive/naive_stack.ts";
import type { BenchStack } from "./bench_stack.ts";
import type { CreditPath } from "./credit_paths.ts";
import { createDirectSql } from "./direct_sql.ts";
import { createPaidPayments, webhookRequest } from "./payments_fixture.ts";

/** The SQL functions through npm:postgres, one connection per lane. */
export function directPath(stack: BenchStack, id = "direct"): CreditPath {
  return {
    id,
    name: "direct SQL",
    adds:
      "record_webhook_event + credit_user through npm:postgres, prepared, autocommit; no HTTP, gateway, lock, provider",
    prepare: (count, owner) => createPaidPayments(stack, count, owner ? { userId: owner } : {}),
    open: (c) => {
      const direct = createDirectSql(stack.database.url, c);
      return Promise.resolve({ settle: (p) => direct.credit(p), close: () => direct.close() });
    },
  };
}

/** The service: a signed webhook over HTTP (lock, record, provider verify, credit). */
export function servicePath(stack: BenchStack, id = "service"): CreditPath {
  return {
    id,
    name: "service over HTTP",
    adds: "the whole service: HTTP, Hono, signature, lock, 2 RPCs through supabase-js → gateway, provider verify",
    prepare: (count, owner) => createPaidPayments(stack, count, owner ? { userId: owner } : {}),
    request: (p) => webhookRequest(stack, p),
  };
}

/** The naive design: the same webhook over HTTP, read-check-write in TypeScript. */
export function naivePath(stack: BenchStack, naive: NaiveStack, id = "naive"): CreditPath {
  return {
    id,
    name: "naive over HTTP",
    adds: "read payment, check status in TS, provider verify, read balance, write balance + transaction + status",
    prepare: (count, owner) => naive.createPaidPayments(count, owner ? { userId: owner } : {}),
    request: (p) => ({ ...webhookRequest(stack, p), url: `${naive.url}/v1/webhooks/paystack` }),
  };
}
