/**
 * The sandbox Paystack itself: its API contract, checkout, webhook delivery
 * with retries, fault injection, persistence across restarts.
 */
import assert from "node:assert/strict";
import { ProviderError } from "../../src/payments/payment_provider.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { verifyPaystackSignature } from "../../src/providers/paystack_signature.ts";
import { formatMinorUnits } from "../../src/providers/sandbox/checkout_page.ts";
import { feesOf } from "../../src/providers/sandbox/paystack_payloads.ts";
import { createSandboxPaystack, SANDBOX_SECRET_KEY } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { merchantCurrencies } from "../../src/providers/sandbox/serve_sandbox.ts";
import { ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_store.ts";
import { createTestDatabase } from "../support/test_db.ts";
import {
  SANDBOX_AUTH as AUTH,
  sandboxApi as api,
  serveSandbox,
  startReceiver,
  submitCheckout,
  withSandbox,
} from "./sandbox_fixture.ts";

function ref(): string {
  return `sbx-${crypto.randomUUID()}`;
}

Deno.test("the API refuses a wrong or missing bearer with Paystack's 401", async () => {
  await withSandbox(async ({ baseUrl, sandbox }) => {
    const cases: [string, string, unknown][] = [
      ["POST", "/transaction/initialize", { email: "a@example.ng", amount: 100 }],
      ["GET", "/transaction/verify/x", undefined],
      ["POST", "/refund", { transaction: "x" }],
      ["GET", "/_sandbox/deliveries", undefined],
      ["POST", "/_sandbox/faults", { action: "reset" }],
    ];
    for (const [method, path, body] of cases) {
      for (const headers of [{}, { Authorization: "Bearer sk_test_wrong" }, { Authorization: SANDBOX_SECRET_KEY }]) {
        const answer = await api(baseUrl, method, path, body, headers);
        assert.equal(answer.status, 401, `${method} ${path}`);
        assert.match(answer.contentType ?? "", /^application\/json/);
        assert.deepEqual(answer.json, { status: false, message: "Invalid key" });
      }
    }
    assert.equal(sandbox.stats.calls.initialize, 3);
  });
});

Deno.test("a 401/403 fault answers Paystack's envelope, the same bytes a refused key gets", async () => {
  await withSandbox(async ({ baseUrl, sandbox }) => {
    const refused = await api(baseUrl, "GET", "/transaction/verify/x", undefined, {});
    sandbox.faults.failNext({ endpoint: "verify", status: 401 });
    const faulted = await api(baseUrl, "GET", "/transaction/verify/x");
    assert.equal(faulted.status, 401);
    assert.match(faulted.contentType ?? "", /^application\/json/);
    assert.deepEqual(faulted.json, refused.json);

    await api(baseUrl, "POST", "/_sandbox/faults", { action: "fail", endpoint: "initialize", status: 403 });
    const forbidden = await api(baseUrl, "POST", "/transaction/initialize", { email: "a@example.ng", amount: 100 });
    assert.equal(forbidden.status, 403);
    assert.deepEqual(forbidden.json, { status: false, message: "Access Denied" });
    // The fault answers before the key check: the call is refused even with the right key, as after a rotation.
    assert.equal(sandbox.stats.calls.initialize, 1);
  });
});

Deno.test("POST /transaction/initialize validates like Paystack and answers its envelope", async (t) => {
  await withSandbox(async ({ baseUrl }) => {
    const init = (body: unknown) => api(baseUrl, "POST", "/transaction/initialize", body);

    await t.step("generates a reference when none is given; amount may be a digit string", async () => {
      const answer = await init({ email: "g@example.ng", amount: "15000" });
      assert.equal(answer.status, 200);
      assert.equal(answer.json.status, true);
      assert.equal(answer.json.message, "Authorization URL created");
      assert.match(answer.json.data.reference, /^[a-z0-9]{12}$/);
      assert.equal(answer.json.data.authorization_url, `${baseUrl}/checkout/${answer.json.data.access_code}`);
      const verified = await api(baseUrl, "GET", `/transaction/verify/${answer.json.data.reference}`);
      assert.equal(verified.json.message, "Verification successful");
      assert.equal(verified.json.data.amount, 15_000);
      assert.equal(verified.json.data.requested_amount, 15_000);
      assert.equal(verified.json.data.fees, null);
      assert.equal(verified.json.data.currency, "NGN");
      assert.equal(verified.json.data.status, "abandoned");
      assert.equal(verified.json.data.gateway_response, "The transaction was not completed");
      // Only what Paystack documents: verify never hands the checkout back.
      assert.ok(!("access_code" in verified.json.data), "no access_code in verify");
      assert.ok(!("authorization_url" in verified.json.data), "no authorization_url in verify");
    });

    await t.step("refuses bad emails, amounts, references, currencies, callback URLs", async () => {
      const cases: [unknown, RegExp][] = [
        [{ amount: 100 }, /^Invalid Email Address Passed$/],
        [{ email: "nope", amount: 100 }, /^Invalid Email Address Passed$/],
        [{ email: "a@example.ng" }, /^Invalid Amount Sent$/],
        [{ email: "a@example.ng", amount: 0 }, /^Invalid Amount Sent$/],
        [{ email: "a@example.ng", amount: 10.5 }, /^Invalid Amount Sent$/],
        [{ email: "a@example.ng", amount: "1e3" }, /^Invalid Amount Sent$/],
        [{ email: "a@example.ng", amount: 100, reference: "bad ref" }, /^Invalid transaction reference/],
        [{ email: "a@example.ng", amount: 100, reference: "x/../y" }, /^Invalid transaction reference/],
        [{ email: "a@example.ng", amount: 100, currency: "BTC" }, /^Currency not supported by merchant$/],
        [{ email: "a@example.ng", amount: 100, callback_url: "javascript:alert(1)" }, /^Invalid callback_url$/],
        [{ email: "a@example.ng", amount: 100, metadata: [1, 2] }, /^Invalid metadata/],
        ["not an object", /^Invalid/],
      ];
      for (const [body, message] of cases) {
        const answer = await init(body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(answer.json.status, false);
        assert.match(answer.json.message, message);
      }
    });

    await t.step("a reused reference → 400 Duplicate Transaction Reference", async () => {
      const reference = ref();
      assert.equal((await init({ email: "d@example.ng", amount: 100, reference })).status, 200);
      const again = await init({ email: "d@example.ng", amount: 100, reference });
      assert.equal(again.status, 400);
      assert.deepEqual(again.json, {
        status: false,
        message: "Duplicate Transaction Reference",
        meta: { next_step: "Use a new, unique reference for every transaction" },
        type: "validation_error",
      });
    });

    await t.step("a currency Paystack has but the merchant did not enable → Paystack's 400", async () => {
      const answer = await init({ email: "c@example.ng", amount: 100, currency: "EGP" });
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.json, {
        status: false,
        message: "Currency not supported by merchant",
        meta: { next_step: "Pass a currency that is enabled on your integration" },
        type: "validation_error",
      });
      assert.equal((await init({ email: "c@example.ng", amount: 100, currency: "GHS" })).status, 200);
    });

    await t.step("accepts metadata as JSON text, as Paystack does", async () => {
      const reference = ref();
      await init({ email: "m@example.ng", amount: 100, reference, metadata: '{"cart":7}' });
      const verified = await api(baseUrl, "GET", `/transaction/verify/${reference}`);
      assert.deepEqual(verified.json.data.metadata, { cart: 7 });
    });
  }, { currencies: ["NGN", "GHS"] });
});

Deno.test("the checkout page escapes what callers sent and settles exactly once", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const reference = ref();
    const email = `"><script>alert('x')</script>@evil.example`;
    const init = await provider.initialize({ reference, amount: 7_500, currency: "ZAR", email });
    const page = await fetch(init.authorizationUrl);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await page.text();
    assert.ok(!html.includes("<script>"), "caller data must be escaped");
    assert.ok(html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert.ok(!/src=|href=/.test(html), "no external assets");
    assert.match(html, /ZAR 75\.00/);

    // Two browsers submit at once: exactly one settles, the other gets 409.
    const [a, b] = await Promise.all([
      submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true }),
      submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    const late = await submitCheckout(init.authorizationUrl, { outcome: "failed" });
    assert.equal(late.status, 409);
    assert.match(late.contentType ?? "", /^text\/html/);

    const settled = await fetch(init.authorizationUrl);
    const settledHtml = await settled.text();
    assert.equal(settled.status, 200);
    assert.ok(!settledHtml.includes('value="success"'), "no Pay button once paid");

    await sandbox.idle();
    assert.equal(receiver.received.length, 1, "one webhook for one settlement");
    assert.equal(sandbox.stats.calls.settle, 3);
    assert.equal(sandbox.stats.calls.checkout, 2);
  });
});

Deno.test("a declined checkout is paid at most once, also when two retries race", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const init = await provider.initialize({ reference: ref(), amount: 4_200, currency: "NGN", email: "r@example.ng" });
    assert.equal((await submitCheckout(init.authorizationUrl, { outcome: "failed" }, { json: true })).status, 200);
    const page = await (await fetch(init.authorizationUrl)).text();
    assert.match(page, /data-field="previous-attempt"/);
    const [a, b] = await Promise.all([
      submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true }),
      submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    await sandbox.idle();
    assert.equal(receiver.received.length, 1, "one charge.success for one payment");
  });
});

Deno.test("a tampered checkout in a currency the merchant did not enable is refused", async () => {
  await withSandbox(async ({ provider }) => {
    const init = await provider.initialize({ reference: ref(), amount: 100, currency: "NGN", email: "t@example.ng" });
    const json = await submitCheckout(init.authorizationUrl, { outcome: "success", currency: "USD" }, { json: true });
    assert.equal(json.status, 400);
    assert.equal(JSON.parse(json.text).message, "Currency not supported by merchant");
    const page = await submitCheckout(init.authorizationUrl, { outcome: "success", currency: "USD" });
    assert.equal(page.status, 400);
    assert.match(page.contentType ?? "", /^text\/html/);
    assert.equal((await provider.verify(init.reference)).status, "abandoned");
  }, { currencies: ["NGN"] });
});

Deno.test("checkout answers 404 for an unknown code and 400 for a bad form", async () => {
  await withSandbox(async ({ baseUrl, provider }) => {
    const missing = await fetch(`${baseUrl}/checkout/nosuchcode`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const init = await provider.initialize({ reference: ref(), amount: 100, currency: "NGN", email: "b@example.ng" });
    for (
      const fields of [{ outcome: "maybe" }, {}, { outcome: "success", amount: "-1" }, {
        outcome: "success",
        currency: "usd",
      }]
    ) {
      const answer = await submitCheckout(init.authorizationUrl, fields, { json: true });
      assert.equal(answer.status, 400, JSON.stringify(fields));
      assert.equal(JSON.parse(answer.text).status, false);
    }
    assert.equal((await provider.verify(init.reference)).status, "abandoned");
  });
});

Deno.test("a webhook the receiver refuses twice is retried with the same signed bytes until 200", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    receiver.script.push(500, 500);
    const init = await provider.initialize({ reference: ref(), amount: 9_900, currency: "NGN", email: "w@example.ng" });
    await submitCheckout(init.authorizationUrl, { outcome: "success" });
    await sandbox.idle();

    assert.equal(receiver.received.length, 3);
    const [first, ...rest] = receiver.received;
    for (const attempt of rest) {
      assert.equal(attempt.rawBody, first!.rawBody);
      assert.equal(attempt.signature, first!.signature);
    }
    assert.equal(await verifyPaystackSignature(SANDBOX_SECRET_KEY, first!.rawBody, first!.signature), true);

    const [delivery] = await sandbox.stats.deliveries();
    assert.equal(delivery?.event, "charge.success");
    assert.equal(delivery?.reference, init.reference);
    assert.equal(delivery?.attempts, 3);
    assert.equal(delivery?.lastStatus, 200);
    assert.ok(delivery?.deliveredAt);
    assert.equal(delivery?.body, first!.rawBody);
  }, { retrySchedule: [20, 40, 60] });
});

Deno.test("delivery gives up after the schedule and records every failed attempt", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    receiver.script.push(500, 503, 502, 500);
    const init = await provider.initialize({ reference: ref(), amount: 100, currency: "NGN", email: "g@example.ng" });
    await submitCheckout(init.authorizationUrl, { outcome: "success" });
    await sandbox.idle();
    assert.equal(receiver.received.length, 3);
    const [delivery] = await sandbox.stats.deliveries();
    assert.equal(delivery?.attempts, 3);
    assert.equal(delivery?.lastStatus, 502);
    assert.equal(delivery?.deliveredAt, null);
  }, { retrySchedule: [10, 10] });
});

Deno.test("webhook faults: an injected network error and a delay are retried through", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    sandbox.faults.failWebhooks({ times: 1, status: 0 });
    sandbox.faults.delayWebhooks(30);
    const init = await provider.initialize({ reference: ref(), amount: 100, currency: "NGN", email: "n@example.ng" });
    await submitCheckout(init.authorizationUrl, { outcome: "success" });
    await sandbox.idle();
    assert.equal(receiver.received.length, 1, "the faulted attempt never reached the receiver");
    const [delivery] = await sandbox.stats.deliveries();
    assert.equal(delivery?.attempts, 2);
    assert.equal(delivery?.lastStatus, 200);
  }, { retrySchedule: [10] });
});

Deno.test("close() cancels pending retries at once (no leaked timers)", async () => {
  const db = await createTestDatabase({ migrated: false, max: 2 });
  const receiver = startReceiver();
  const served = serveSandbox(db, { webhookUrl: receiver.url, retrySchedule: [60_000, 60_000] });
  try {
    receiver.script.push(500);
    const provider = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: served.baseUrl });
    const init = await provider.initialize({ reference: ref(), amount: 100, currency: "NGN", email: "c@example.ng" });
    await submitCheckout(init.authorizationUrl, { outcome: "success" });
    // Wait for the first (refused) attempt; the next one is a minute away.
    await receiver.waitFor(1);
    const started = performance.now();
    await served.close();
    assert.ok(performance.now() - started < 2_000, "close() must not wait for the retry schedule");
    assert.equal(receiver.received.length, 1);
  } finally {
    await served.close();
    await receiver.close();
    await db.close();
  }
});

Deno.test("faults over HTTP: POST /_sandbox/faults, counters and GET /_sandbox/deliveries", async () => {
  await withSandbox(async ({ baseUrl, sandbox }) => {
    const set = await api(baseUrl, "POST", "/_sandbox/faults", [
      { action: "fail", endpoint: "initialize", times: 2, status: 503 },
      { action: "fail", endpoint: "verify", status: 500, message: "boom" },
    ]);
    assert.equal(set.status, 200);
    assert.equal(set.json.data.api.length, 2);

    const body = { email: "h@example.ng", amount: 100 };
    assert.equal((await api(baseUrl, "POST", "/transaction/initialize", body)).status, 503);
    assert.equal((await api(baseUrl, "POST", "/transaction/initialize", body)).status, 503);
    const third = await api(baseUrl, "POST", "/transaction/initialize", body);
    assert.equal(third.status, 200);
    const boom = await api(baseUrl, "GET", `/transaction/verify/${third.json.data.reference}`);
    assert.deepEqual([boom.status, boom.json.message], [500, "boom"]);
    assert.equal((await api(baseUrl, "GET", `/transaction/verify/${third.json.data.reference}`)).status, 200);
    assert.deepEqual(sandbox.stats.calls, {
      initialize: 3,
      verify: 2,
      refund: 0,
      list: 0,
      refund_list: 0,
      refund_fetch: 0,
      checkout: 0,
      settle: 0,
    });

    const stats = await api(baseUrl, "GET", "/_sandbox/stats");
    assert.deepEqual(stats.json.data.calls, sandbox.stats.calls);
    const bad = await api(baseUrl, "POST", "/_sandbox/faults", { action: "fail", status: 42 });
    assert.equal(bad.status, 400);
    await api(baseUrl, "POST", "/_sandbox/faults", { action: "delay", endpoint: "verify", ms: 5 });
    assert.equal(sandbox.faults.snapshot().apiDelayMs.verify, 5);
    await api(baseUrl, "POST", "/_sandbox/faults", { action: "reset" });
    assert.deepEqual(sandbox.faults.snapshot().api, []);
    assert.equal(sandbox.faults.snapshot().apiDelayMs.verify, 0);

    const deliveries = await api(baseUrl, "GET", "/_sandbox/deliveries");
    assert.equal(deliveries.status, 200);
    assert.deepEqual(deliveries.json.data, []);
  });
});

Deno.test("pass_fees and verify_status over HTTP: bounded, validated, listed, reset", async () => {
  await withSandbox(async ({ baseUrl, provider, sandbox }) => {
    const reference = ref();
    const init = await provider.initialize({ reference, amount: 20_000, currency: "NGN", email: "h@example.ng" });
    const set = await api(baseUrl, "POST", "/_sandbox/faults", [
      { action: "pass_fees", reference },
      { action: "verify_status", status: "processing", reference, times: 2 },
    ]);
    assert.equal(set.status, 200);
    assert.deepEqual(set.json.data.passFees, [{ reference, remaining: 1 }]);
    assert.deepEqual(set.json.data.verifyStatus, [{ reference, remaining: 2, status: "processing" }]);

    await submitCheckout(init.authorizationUrl, { outcome: "success" });
    const verify = () => api(baseUrl, "GET", `/transaction/verify/${reference}`);
    for (let i = 0; i < 2; i++) {
      const inFlight = await verify();
      assert.equal(inFlight.json.data.status, "processing");
      assert.equal(inFlight.json.data.paid_at, null);
      assert.equal(inFlight.json.data.paidAt, null);
    }
    const done = await verify();
    const fees = feesOf(20_000);
    assert.equal(done.json.data.status, "success");
    assert.deepEqual([done.json.data.amount, done.json.data.requested_amount, done.json.data.fees], [
      20_000 + fees,
      20_000,
      fees,
    ]);
    assert.deepEqual((await api(baseUrl, "GET", "/_sandbox/faults")).json.data.verifyStatus, []);

    for (
      const bad of [
        { action: "verify_status", status: "success" },
        { action: "verify_status", status: "abandoned" },
        { action: "verify_status" },
        { action: "verify_status", status: "pending", times: 0 },
        { action: "verify_status", status: "pending", reference: "bad ref" },
        { action: "pass_fees", times: 10_001 },
        { action: "pass_fees", reference: "" },
      ]
    ) {
      assert.equal((await api(baseUrl, "POST", "/_sandbox/faults", bad)).status, 400, JSON.stringify(bad));
    }
    const named = await api(baseUrl, "POST", "/_sandbox/faults", { action: "verify_status", status: "success" });
    assert.match(named.json.message, /^Invalid fault command: status: /);
    assert.deepEqual(named.json.data, undefined);
    assert.deepEqual(sandbox.faults.snapshot().verifyStatus, [], "a refused command sets nothing");
    assert.throws(() => sandbox.faults.verifyStatusNext({ status: "success" as "pending" }), RangeError);
    assert.throws(() => sandbox.faults.passFeesNext({ times: 0 }), RangeError);
    const full = await api(baseUrl, "POST", "/_sandbox/faults", [
      ...Array.from({ length: 100 }, () => ({ action: "pass_fees" })),
    ]);
    assert.equal(full.status, 200);
    const over = await api(baseUrl, "POST", "/_sandbox/faults", { action: "pass_fees" });
    assert.equal(over.status, 400);
    assert.match(over.json.message, /at most 100 rules/);
    assert.throws(() => sandbox.faults.passFeesNext({ reference: "a/b" }), RangeError);

    await api(baseUrl, "POST", "/_sandbox/faults", { action: "reset" });
    const again = await api(baseUrl, "POST", "/_sandbox/faults", [{ action: "pass_fees", times: 3 }, {
      action: "verify_status",
      status: "queued",
    }]);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json.data.passFees, [{ reference: null, remaining: 3 }]);
    assert.deepEqual(again.json.data.verifyStatus, [{ reference: null, remaining: 1, status: "queued" }]);
    await api(baseUrl, "POST", "/_sandbox/faults", { action: "reset" });
    const cleared = sandbox.faults.snapshot();
    assert.deepEqual([cleared.passFees, cleared.verifyStatus], [[], []]);
  });
});

Deno.test("a restarted sandbox on the same database keeps its transactions", async () => {
  const db = await createTestDatabase({ migrated: false, max: 4 });
  try {
    const reference = ref();
    let accessCode: string;
    const first = serveSandbox(db);
    try {
      const provider = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: first.baseUrl });
      const paid = await provider.initialize({ reference, amount: 12_345, currency: "NGN", email: "r@example.ng" });
      accessCode = paid.accessCode;
      await submitCheckout(paid.authorizationUrl, { outcome: "success" });
    } finally {
      await first.close();
    }

    const second = serveSandbox(db);
    try {
      const provider = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: second.baseUrl });
      const verified = await provider.verify(reference);
      assert.equal(verified.status, "success");
      assert.equal(verified.amount, 12_345);
      // The duplicate guard survives the restart too.
      await assert.rejects(
        () => provider.initialize({ reference, amount: 12_345, currency: "NGN", email: "r@example.ng" }),
        (error) => error instanceof ProviderError && error.kind === "duplicate_reference",
      );
      const refund = await provider.refund({ transaction: reference, amount: 345, currency: "NGN", merchantNote: "r" });
      assert.equal(refund.amount, 345);
      const page = await fetch(`${second.baseUrl}/checkout/${accessCode}`);
      assert.match(await page.text(), /already <strong data-field="status">success/);
    } finally {
      await second.close();
    }
  } finally {
    await db.close();
  }
});

Deno.test("ensureSandboxSchema() is idempotent, also when two callers race", async () => {
  const db = await createTestDatabase({ migrated: false, max: 4 });
  try {
    await Promise.all([ensureSandboxSchema(db.db), ensureSandboxSchema(db.db)]);
    await ensureSandboxSchema(db.db);
    const tables = await db.db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'sandbox_paystack' order by 1",
    );
    assert.deepEqual(tables.map((r) => r.table_name), ["deliveries", "refunds", "transactions"]);
  } finally {
    await db.close();
  }
});

Deno.test("ensureSandboxSchema() adds the fees columns to a schema created before them", async () => {
  const db = await createTestDatabase({ migrated: false, max: 2 });
  try {
    await ensureSandboxSchema(db.db);
    await db.db.exec(
      "alter table sandbox_paystack.transactions drop column fees, drop column fees_passed",
    );
    await ensureSandboxSchema(db.db);
    await ensureSandboxSchema(db.db);
    const columns = await db.db.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_schema = 'sandbox_paystack' and table_name = 'transactions' and column_name like 'fees%'
        order by 1`,
    );
    assert.deepEqual(columns.map((r) => r.column_name), ["fees", "fees_passed"]);
    const checks = await db.db.query<{ n: number }>(
      `select count(*)::int as n from pg_constraint
        where conrelid = 'sandbox_paystack.transactions'::regclass and pg_get_constraintdef(oid) like '%fees >= 0%'`,
    );
    assert.equal(checks[0]?.n, 1, "re-running does not stack constraints");
  } finally {
    await db.close();
  }
});

Deno.test("createSandboxPaystack() refuses APP_ENV=production", async () => {
  const db = await createTestDatabase({ migrated: false, max: 1 });
  try {
    assert.throws(() => createSandboxPaystack({ db: db.db, appEnv: "production" }), /production/);
    const dev = createSandboxPaystack({ db: db.db, appEnv: "development", log: () => {} });
    await dev.close();
    // Merchant currencies must be some Paystack can enable.
    for (const currencies of [[], ["JPY"], ["NGN", "EUR"], ["ngn"]]) {
      assert.throws(() => createSandboxPaystack({ db: db.db, currencies, log: () => {} }), RangeError);
    }
    const ngn = createSandboxPaystack({ db: db.db, currencies: ["NGN", "USD"], log: () => {} });
    await ngn.close();
  } finally {
    await db.close();
  }
});

Deno.test("the sandbox mounts under a prefix and derives checkout URLs from it", async () => {
  const db = await createTestDatabase({ migrated: false, max: 2 });
  const sandbox = createSandboxPaystack({ db: db.db, log: () => {} });
  try {
    const { Hono } = await import("hono");
    const app = new Hono();
    app.route("/sandbox/paystack", sandbox.app);
    const response = await app.request("http://svc.local/sandbox/paystack/transaction/initialize", {
      method: "POST",
      headers: { ...AUTH, "Content-Type": "application/json" },
      body: JSON.stringify({ email: "p@example.ng", amount: 100 }),
    });
    assert.equal(response.status, 200);
    const { data } = await response.json();
    assert.equal(data.authorization_url, `http://svc.local/sandbox/paystack/checkout/${data.access_code}`);
  } finally {
    await sandbox.close();
    await db.close();
  }
});

Deno.test("serve_sandbox: merchant currencies from SANDBOX_CURRENCIES, else PAYMENT_CURRENCIES, else the defaults", () => {
  assert.deepEqual(merchantCurrencies({ SANDBOX_CURRENCIES: "NGN, GHS", PAYMENT_CURRENCIES: "[]" }), ["NGN", "GHS"]);
  assert.deepEqual(
    merchantCurrencies({ PAYMENT_CURRENCIES: '[{"code":"NGN","exponent":2,"min":100,"max":1000}]' }),
    ["NGN"],
  );
  assert.deepEqual(merchantCurrencies({}), ["NGN", "GHS", "KES", "ZAR", "USD"]);
  assert.throws(() => merchantCurrencies({ PAYMENT_CURRENCIES: "not json" }), /PAYMENT_CURRENCIES/);
  assert.throws(() => merchantCurrencies({ PAYMENT_CURRENCIES: '[{"currency":"NGN"}]' }), /PAYMENT_CURRENCIES/);
});

Deno.test("formatMinorUnits() lays out minor units per currency without floats", () => {
  assert.equal(formatMinorUnits(123_456, "NGN"), "NGN 1,234.56");
  assert.equal(formatMinorUnits(5, "USD"), "USD 0.05");
  assert.equal(formatMinorUnits(1_500, "JPY"), "JPY 1,500");
  assert.equal(formatMinorUnits(1_234, "KWD"), "KWD 1.234");
  assert.equal(formatMinorUnits(9_007_199_254_740_991, "NGN"), "NGN 90,071,992,547,409.91");
});
