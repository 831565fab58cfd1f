/**
 * `listTransactions()`: the Paystack adapter against the sandbox's
 * `GET /transaction`, over real HTTP: filters, windows, offset paging with
 * Paystack's `meta` block, the documented fields only, errors.
 */
import assert from "node:assert/strict";
import {
  type ListTransactionsQuery,
  type PaymentProvider,
  ProviderError,
} from "../../src/payments/payment_provider.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { feesOf } from "../../src/providers/sandbox/paystack_payloads.ts";
import { SANDBOX_SECRET_KEY } from "../../src/providers/sandbox/sandbox_paystack.ts";
import type { TestDatabase } from "../support/test_db.ts";
import { submitCheckout, withSandbox } from "./sandbox_fixture.ts";

/** The fields Paystack documents for one transaction of `GET /transaction`. */
const LISTED_FIELDS = [
  "amount",
  "authorization",
  "channel",
  "connect",
  "created_at",
  "currency",
  "customer",
  "domain",
  "fees",
  "fees_split",
  "gateway_response",
  "id",
  "ip_address",
  "log",
  "message",
  "metadata",
  "order_id",
  "paid_at",
  "plan",
  "pos_transaction_data",
  "reference",
  "requested_amount",
  "source",
  "split",
  "status",
  "subaccount",
];

const HOUR = 3_600_000;

/** A paid (or declined, or untouched) transaction, optionally backdated `ageMs` at the sandbox. */
async function transaction(
  provider: PaymentProvider,
  db: TestDatabase,
  { outcome, amount = 10_000, ageMs = 0, tamper }: {
    outcome: "success" | "failed" | null;
    amount?: number;
    ageMs?: number;
    tamper?: number;
  },
): Promise<string> {
  const reference = `pay-${crypto.randomUUID().replaceAll("-", "")}`;
  const init = await provider.initialize({ reference, amount, currency: "NGN", email: "lister@example.ng" });
  if (outcome !== null) {
    const fields: Record<string, string> = { outcome };
    if (tamper !== undefined) fields.amount = String(tamper);
    const settled = await submitCheckout(init.authorizationUrl, fields, { json: true });
    assert.equal(settled.status, 200, settled.text);
  }
  if (ageMs > 0) {
    await db.db.query(
      "update sandbox_paystack.transactions set created_at = now() - make_interval(secs => $2::float8 / 1000) where reference = $1",
      [reference, ageMs],
    );
  }
  return reference;
}

function query(overrides: Partial<ListTransactionsQuery> = {}): ListTransactionsQuery {
  return {
    status: "success",
    from: new Date(Date.now() - 24 * HOUR).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
    perPage: 50,
    page: 1,
    ...overrides,
  };
}

Deno.test("listTransactions(): only successes in the window, newest first, with requested_amount and fees", async () => {
  await withSandbox(async ({ provider, db, sandbox }) => {
    const old = await transaction(provider, db, { outcome: "success", ageMs: 30 * HOUR });
    const paid = await transaction(provider, db, { outcome: "success", amount: 20_000, ageMs: 2 * HOUR });
    const tampered = await transaction(provider, db, { outcome: "success", amount: 30_000, tamper: 100, ageMs: HOUR });
    await transaction(provider, db, { outcome: "failed" });
    await transaction(provider, db, { outcome: null });
    await sandbox.idle();

    const page = await provider.listTransactions(query());
    assert.deepEqual(page.items.map((t) => t.reference), [tampered, paid]);
    assert.deepEqual({ page: page.page, perPage: page.perPage, pageCount: page.pageCount, total: page.total }, {
      page: 1,
      perPage: 50,
      pageCount: 1,
      total: 2,
    });
    const [t, p] = page.items;
    assert.equal(p!.status, "success");
    assert.equal(p!.amount, 20_000);
    assert.equal(p!.requestedAmount, 20_000);
    assert.equal(p!.currency, "NGN");
    assert.equal(p!.fees, feesOf(20_000));
    assert.ok(p!.paidAt && p!.createdAt && p!.providerTransactionId);
    assert.ok(Date.parse(p!.createdAt!) < Date.now() - HOUR);
    // A tampered checkout is a transaction of another amount: the listing says so too.
    assert.equal(t!.amount, 100);
    assert.equal(t!.requestedAmount, 100);
    assert.equal(sandbox.stats.calls.list, 1);

    const all = await provider.listTransactions(query({ from: new Date(Date.now() - 48 * HOUR).toISOString() }));
    assert.deepEqual(all.items.map((item) => item.reference), [tampered, paid, old]);
    const failed = await provider.listTransactions(query({ status: "failed" }));
    assert.equal(failed.items.length, 1);
    assert.equal(failed.items[0]!.status, "failed");
  });
});

Deno.test("listTransactions() pages with Paystack's offset paging: every item once, pageCount and total", async () => {
  await withSandbox(async ({ provider, db }) => {
    const references: string[] = [];
    for (let i = 0; i < 7; i++) {
      references.unshift(await transaction(provider, db, { outcome: "success", ageMs: (7 - i) * 60_000 }));
    }
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const listed = await provider.listTransactions(query({ perPage: 3, page }));
      assert.equal(listed.page, page);
      assert.equal(listed.perPage, 3);
      assert.equal(listed.pageCount, 3);
      assert.equal(listed.total, 7);
      assert.equal(listed.items.length, page < 3 ? 3 : 1);
      seen.push(...listed.items.map((t) => t.reference));
    }
    assert.deepEqual(seen, references);
    const beyond = await provider.listTransactions(query({ perPage: 3, page: 4 }));
    assert.deepEqual(beyond.items, []);
    assert.equal(beyond.total, 7);
  });
});

Deno.test("GET /transaction answers Paystack's documented shape: the listed fields and the meta block", async () => {
  await withSandbox(async ({ provider, db, baseUrl }) => {
    const reference = await transaction(provider, db, { outcome: "success", amount: 12_345 });
    const res = await fetch(`${baseUrl}/transaction?status=success&perPage=2&page=1`, {
      headers: { Authorization: `Bearer ${SANDBOX_SECRET_KEY}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ["data", "message", "meta", "status"]);
    assert.equal(body.status, true);
    assert.equal(body.message, "Transactions retrieved");
    assert.deepEqual(body.meta, { total: 1, total_volume: 12_345, skipped: 0, perPage: 2, page: 1, pageCount: 1 });
    assert.equal(body.data.length, 1);
    const [item] = body.data;
    assert.deepEqual(Object.keys(item).sort(), LISTED_FIELDS);
    assert.equal(item.reference, reference);
    assert.equal(item.status, "success");
    assert.equal(item.requested_amount, 12_345);
    assert.deepEqual(Object.keys(item.customer).sort(), [
      "customer_code",
      "email",
      "first_name",
      "id",
      "last_name",
      "metadata",
      "phone",
      "risk_action",
    ]);

    // Paystack's default page size is 50.
    const defaults = await (await fetch(`${baseUrl}/transaction`, {
      headers: { Authorization: `Bearer ${SANDBOX_SECRET_KEY}` },
    })).json();
    assert.equal(defaults.meta.perPage, 50);
    assert.equal(defaults.meta.page, 1);
  });
});

Deno.test("listing errors: a bad query is 400, a refused key 401, an outage unavailable", async (t) => {
  await withSandbox(async ({ provider, providerWith, sandbox, baseUrl }) => {
    await t.step("the sandbox refuses a bad status, timestamp or page with a validation error", async () => {
      for (const q of ["status=paid", "from=yesterday", "perPage=0", "page=-1"]) {
        const res = await fetch(`${baseUrl}/transaction?${q}`, {
          headers: { Authorization: `Bearer ${SANDBOX_SECRET_KEY}` },
        });
        assert.equal(res.status, 400, q);
        const body = await res.json();
        assert.equal(body.status, false);
        assert.equal(body.type, "validation_error");
      }
    });

    await t.step("the adapter refuses a query that could never be valid before sending it", async () => {
      const before = sandbox.stats.calls.list;
      for (
        const bad of [
          query({ perPage: 0 }),
          query({ page: 0 }),
          query({ from: "not a date" }),
          query({ from: new Date().toISOString(), to: new Date(Date.now() - HOUR).toISOString() }),
        ]
      ) {
        await assert.rejects(provider.listTransactions(bad), RangeError);
      }
      assert.equal(sandbox.stats.calls.list, before);
    });

    await t.step("a wrong key → unauthorized; a 503 → unavailable", async () => {
      await assert.rejects(
        providerWith({ secretKey: "sk_test_wrong" }).listTransactions(query()),
        (error) => error instanceof ProviderError && error.kind === "unauthorized",
      );
      sandbox.faults.failNext({ endpoint: "list", status: 503 });
      await assert.rejects(
        provider.listTransactions(query()),
        (error) => error instanceof ProviderError && error.kind === "unavailable",
      );
    });

    await t.step("an answer without the meta paging block → invalid_response", async () => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () => Response.json({ status: true, message: "Transactions retrieved", data: [] }),
      );
      try {
        const odd = createPaystackProvider({ secretKey: "sk", baseUrl: `http://127.0.0.1:${server.addr.port}` });
        await assert.rejects(
          odd.listTransactions(query()),
          (error) => error instanceof ProviderError && error.kind === "invalid_response",
        );
      } finally {
        await server.shutdown();
      }
    });
  });
});
