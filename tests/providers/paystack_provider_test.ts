/**
 * The Paystack adapter against the sandbox Paystack, over real HTTP, with a
 * real Postgres behind the sandbox.
 */
import assert from "node:assert/strict";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { verifyPaystackSignature } from "../../src/providers/paystack_signature.ts";
import { feesOf } from "../../src/providers/sandbox/paystack_payloads.ts";
import { SANDBOX_SECRET_KEY } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { rejectsWith, submitCheckout, withSandbox } from "./sandbox_fixture.ts";

function ref(): string {
  return `pay-${crypto.randomUUID()}`;
}

Deno.test("initialize → checkout → Pay → verify success → signed charge.success webhook", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const reference = ref();
    const init = await provider.initialize({
      reference,
      amount: 250_075,
      currency: "NGN",
      email: "ada@example.ng",
      metadata: { user_id: "u-1" },
      callbackUrl: "https://app.example/return",
    });
    assert.equal(init.reference, reference);
    assert.match(init.authorizationUrl, new RegExp(`/checkout/${init.accessCode}$`));
    assert.equal(sandbox.stats.calls.initialize, 1);

    const page = await fetch(init.authorizationUrl);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.match(html, /NGN 2,500\.75/);
    assert.ok(html.includes(reference));
    assert.ok(html.includes("ada@example.ng"));
    assert.match(html, /<button[^>]*name="outcome" value="success"[^>]*>Pay<\/button>/);
    assert.match(html, /<button[^>]*name="outcome" value="failed"[^>]*>Decline<\/button>/);

    const before = await provider.verify(reference);
    assert.equal(before.status, "abandoned");
    assert.equal(before.paidAt, null);

    const paid = await submitCheckout(init.authorizationUrl, { outcome: "success" });
    assert.equal(paid.status, 200);
    assert.match(paid.contentType ?? "", /^text\/html/);
    assert.match(paid.text, /Payment successful/);
    assert.ok(paid.text.includes("https://app.example/return?trxref=" + reference));

    const verified = await provider.verify(reference);
    assert.equal(verified.status, "success");
    assert.equal(verified.reference, reference);
    assert.equal(verified.amount, 250_075);
    assert.equal(verified.requestedAmount, 250_075, "fees borne by the merchant: charged = asked");
    assert.equal(verified.fees, feesOf(250_075));
    assert.equal(verified.currency, "NGN");
    assert.equal(verified.gatewayResponse, "Successful");
    assert.ok(verified.paidAt !== null && !Number.isNaN(Date.parse(verified.paidAt)));
    assert.match(verified.providerTransactionId ?? "", /^\d+$/);
    const raw = verified.raw as Record<string, unknown>;
    assert.deepEqual(raw.metadata, { user_id: "u-1" });
    assert.equal((raw.customer as { email: string }).email, "ada@example.ng");
    assert.equal(raw.channel, "card");
    // Paystack's verify documents neither: nothing may rely on getting the checkout back from it.
    assert.ok(!("access_code" in raw) && !("authorization_url" in raw), "verify carries no checkout data");
    assert.equal(before.fees, null);
    assert.equal(before.requestedAmount, 250_075);

    await sandbox.idle();
    assert.equal(receiver.received.length, 1);
    const hook = receiver.received[0]!;
    assert.equal(hook.contentType, "application/json");
    assert.equal(await verifyPaystackSignature(SANDBOX_SECRET_KEY, hook.rawBody, hook.signature), true);
    assert.equal(await verifyPaystackSignature("sk_test_other", hook.rawBody, hook.signature), false);
    assert.equal(hook.json.event, "charge.success");
    assert.equal(hook.json.data.reference, reference);
    assert.equal(hook.json.data.amount, 250_075);
    assert.equal(hook.json.data.currency, "NGN");
    assert.equal(hook.json.data.status, "success");
    assert.equal(hook.json.data.id, Number(verified.providerTransactionId));
    assert.deepEqual(hook.json.data.metadata, { user_id: "u-1" });
    assert.equal((hook.json.data.customer as { email: string }).email, "ada@example.ng");
    assert.equal(sandbox.stats.calls.initialize, 1);
  });
});

Deno.test("Decline → verify failed, and no webhook (Paystack only sends them for successful charges)", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const reference = ref();
    const init = await provider.initialize({ reference, amount: 10_000, currency: "GHS", email: "kofi@example.gh" });
    const declined = await submitCheckout(init.authorizationUrl, { outcome: "failed" });
    assert.equal(declined.status, 200);
    assert.match(declined.text, /Payment declined/);
    const verified = await provider.verify(reference);
    assert.equal(verified.status, "failed");
    assert.equal(verified.paidAt, null);
    assert.equal(verified.fees, null);
    assert.equal(verified.gatewayResponse, "Declined");
    await sandbox.idle();
    assert.equal(receiver.received.length, 0);
    assert.deepEqual(await sandbox.stats.deliveries(), []);
  });
});

Deno.test("a declined checkout can still be paid: failed → success, one charge.success, then never again", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const reference = ref();
    const init = await provider.initialize({ reference, amount: 12_000, currency: "NGN", email: "retry@example.ng" });
    for (let i = 0; i < 2; i++) {
      assert.equal((await submitCheckout(init.authorizationUrl, { outcome: "failed" })).status, 200);
      assert.equal((await provider.verify(reference)).status, "failed");
    }

    // The customer comes back to the same checkout and pays.
    const page = await (await fetch(init.authorizationUrl)).text();
    assert.match(page, /The last attempt was declined/);
    assert.match(page, /<button[^>]*value="success"[^>]*>Pay<\/button>/);
    const paid = await submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true });
    assert.equal(paid.status, 200);
    const verified = await provider.verify(reference);
    assert.equal(verified.status, "success");
    assert.equal(verified.gatewayResponse, "Successful");
    assert.ok(verified.paidAt !== null);
    assert.equal(verified.requestedAmount, 12_000);

    // Paid is final: neither a second payment nor a late decline is accepted.
    assert.equal((await submitCheckout(init.authorizationUrl, { outcome: "success" }, { json: true })).status, 409);
    assert.equal((await submitCheckout(init.authorizationUrl, { outcome: "failed" }, { json: true })).status, 409);
    assert.equal((await provider.verify(reference)).status, "success");

    await sandbox.idle();
    assert.deepEqual(receiver.received.map((w) => [w.json.event, w.json.data.reference]), [[
      "charge.success",
      reference,
    ]]);
  });
});

Deno.test("a tampered checkout settles another amount and currency, and verify and the webhook say so", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const reference = ref();
    const init = await provider.initialize({ reference, amount: 500_000, currency: "NGN", email: "t@example.ng" });
    const paid = await submitCheckout(init.authorizationUrl, { outcome: "success", amount: "100", currency: "USD" }, {
      json: true,
    });
    assert.equal(paid.status, 200);
    assert.match(paid.contentType ?? "", /^application\/json/);
    assert.equal(JSON.parse(paid.text).data.amount, 100);

    const verified = await provider.verify(reference);
    assert.equal(verified.status, "success");
    assert.equal(verified.amount, 100);
    // A tampered checkout is a transaction of another amount: what it asked is not what we asked.
    assert.equal(verified.requestedAmount, 100);
    assert.notEqual(verified.requestedAmount, 500_000);
    assert.equal(verified.currency, "USD");
    assert.equal((verified.raw as { requested_amount: number }).requested_amount, 100);

    await sandbox.idle();
    assert.equal(receiver.received[0]?.json.data.amount, 100);
    assert.equal(receiver.received[0]?.json.data.requested_amount, 100);
    assert.equal(receiver.received[0]?.json.data.currency, "USD");
  });
});

Deno.test("initialize() of a known reference → duplicate_reference, never a resumed checkout", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const reference = ref();
    const input = { reference, amount: 42_00, currency: "NGN", email: "dup@example.ng" };
    const first = await provider.initialize(input);
    const duplicate = { httpStatus: 400, providerMessage: /^Duplicate Transaction Reference$/ };

    // A retry after a crash between the provider call and storing its answer: the checkout cannot be recovered.
    const error = await rejectsWith(() => provider.initialize(input), "duplicate_reference", duplicate);
    assert.match(error.message, /already known/);
    // The same reference for another amount, or once paid: the same answer.
    await rejectsWith(() => provider.initialize({ ...input, amount: 43_00 }), "duplicate_reference", duplicate);
    await submitCheckout(first.authorizationUrl, { outcome: "success" });
    await rejectsWith(() => provider.initialize(input), "duplicate_reference", duplicate);

    // No resolution through verify: the adapter does not look the reference up.
    assert.equal(sandbox.stats.calls.initialize, 4);
    assert.equal(sandbox.stats.calls.verify, 0);

    // A 400 with another message stays `rejected`, and only initialize knows duplicates.
    sandbox.faults.failNext({ endpoint: "refund", status: 400, message: "Duplicate Transaction Reference" });
    await rejectsWith(
      () => provider.refund({ transaction: reference, amount: 100, currency: "NGN", merchantNote: "refund:1" }),
      "rejected",
      duplicate,
    );
  });
});

Deno.test("verify reports requested_amount and fees: with fees passed to the customer, amount includes them", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const pay = async (amount: number) => {
      const reference = ref();
      const init = await provider.initialize({ reference, amount, currency: "NGN", email: "fees@example.ng" });
      assert.equal((await submitCheckout(init.authorizationUrl, { outcome: "success" })).status, 200);
      return reference;
    };

    sandbox.faults.passFeesNext();
    const passed = await pay(100_000);
    const fees = feesOf(100_000);
    assert.ok(fees > 0);
    const verified = await provider.verify(passed);
    assert.equal(verified.status, "success");
    assert.equal(verified.amount, 100_000 + fees, "the customer was charged the fees on top");
    assert.equal(verified.requestedAmount, 100_000, "what we asked");
    assert.equal(verified.fees, fees);
    const raw = verified.raw as { amount: number; requested_amount: number; fees: number };
    assert.deepEqual([raw.amount, raw.requested_amount, raw.fees], [100_000 + fees, 100_000, fees]);

    // The rule was for one payment: the next one is charged exactly what was asked.
    const plain = await pay(100_000);
    const again = await provider.verify(plain);
    assert.deepEqual([again.amount, again.requestedAmount, again.fees], [100_000, 100_000, fees]);

    // Scoped to one reference: other payments are not affected, and the rule waits for its payment.
    const target = ref();
    const targetInit = await provider.initialize({
      reference: target,
      amount: 50_000,
      currency: "NGN",
      email: "t@x.ng",
    });
    sandbox.faults.passFeesNext({ reference: target });
    const other = await pay(50_000);
    assert.equal((await provider.verify(other)).amount, 50_000);
    await submitCheckout(targetInit.authorizationUrl, { outcome: "success" });
    const targeted = await provider.verify(target);
    assert.deepEqual([targeted.amount, targeted.requestedAmount], [50_000 + feesOf(50_000), 50_000]);
    assert.deepEqual(sandbox.faults.snapshot().passFees, []);

    // charge.success carries the same transaction object.
    await sandbox.idle();
    const hook = receiver.received.find((w) => w.json.data.reference === passed);
    assert.equal(hook?.json.data.amount, 100_000 + fees);
    assert.equal(hook?.json.data.requested_amount, 100_000);
    assert.equal(hook?.json.data.fees, fees);
  });
});

Deno.test("verify can answer a non-final status for the next N verifies, then the truth", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const reference = ref();
    const other = ref();
    const init = await provider.initialize({ reference, amount: 7_000, currency: "NGN", email: "nf@example.ng" });
    await provider.initialize({ reference: other, amount: 7_000, currency: "NGN", email: "nf@example.ng" });
    await submitCheckout(init.authorizationUrl, { outcome: "success" });

    for (const status of ["ongoing", "pending", "processing", "queued"] as const) {
      sandbox.faults.verifyStatusNext({ status, reference, times: 2 });
      for (let i = 0; i < 2; i++) {
        const inFlight = await provider.verify(reference);
        assert.equal(inFlight.status, status);
        assert.equal(inFlight.paidAt, null);
        assert.equal(inFlight.fees, null);
        assert.equal(inFlight.amount, 7_000);
        assert.equal(inFlight.requestedAmount, 7_000);
      }
      assert.equal((await provider.verify(reference)).status, "success", `after ${status}`);
    }

    // A rule for one reference leaves the others alone; a rule without one takes the next verify of any.
    sandbox.faults.verifyStatusNext({ status: "pending", reference });
    assert.equal((await provider.verify(other)).status, "abandoned");
    assert.equal((await provider.verify(reference)).status, "pending");
    sandbox.faults.verifyStatusNext({ status: "queued" });
    assert.equal((await provider.verify(other)).status, "queued");
    assert.equal((await provider.verify(other)).status, "abandoned");
    // An unknown reference does not use a rule up.
    sandbox.faults.verifyStatusNext({ status: "processing" });
    await rejectsWith(() => provider.verify("never-initialized"), "not_found");
    assert.equal((await provider.verify(reference)).status, "processing");
  });
});

Deno.test("the sandbox merchant accepts only its enabled currencies", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const input = { amount: 5_000, email: "c@example.ng" };
    assert.equal(
      (await provider.initialize({ ...input, reference: ref(), currency: "NGN" })).reference.length > 0,
      true,
    );
    for (const currency of ["USD", "GHS", "JPY"]) {
      await rejectsWith(() => provider.initialize({ ...input, reference: ref(), currency }), "rejected", {
        httpStatus: 400,
        providerMessage: /^Currency not supported by merchant$/,
      });
    }
    assert.equal(sandbox.stats.calls.initialize, 4);
  }, { currencies: ["NGN"] });
});

Deno.test("provider failures map to ProviderError kinds", async (t) => {
  await withSandbox(async ({ provider, providerWith, sandbox }) => {
    const input = () => ({ reference: ref(), amount: 5_000, currency: "NGN", email: "f@example.ng" });

    await t.step("503 → unavailable, then the retry succeeds with the same reference", async () => {
      sandbox.faults.failNext({ endpoint: "initialize", status: 503 });
      const i = input();
      const error = await rejectsWith(() => provider.initialize(i), "unavailable", { httpStatus: 503 });
      assert.match(error.providerMessage ?? "", /unavailable/);
      const ok = await provider.initialize(i);
      assert.equal(ok.reference, i.reference);
    });

    await t.step("429 → unavailable (rate limits are retried, never stored)", async () => {
      sandbox.faults.failNext({ endpoint: "verify", status: 429, message: "Too many requests" });
      await rejectsWith(() => provider.verify("anything"), "unavailable", { httpStatus: 429 });
    });

    await t.step("400 from validation → rejected with Paystack's message", async () => {
      await rejectsWith(() => provider.initialize({ ...input(), email: "not-an-email" }), "rejected", {
        httpStatus: 400,
        providerMessage: /^Invalid Email Address Passed$/,
      });
      await rejectsWith(() => provider.initialize({ ...input(), currency: "JPY" }), "rejected", {
        httpStatus: 400,
        providerMessage: /Currency not supported/,
      });
    });

    await t.step("an injected 400 → rejected", async () => {
      sandbox.faults.failNext({ endpoint: "initialize", status: 400, message: "Invalid split code" });
      await rejectsWith(() => provider.initialize(input()), "rejected", {
        httpStatus: 400,
        providerMessage: /^Invalid split code$/,
      });
    });

    await t.step("no answer within timeoutMs → unavailable", async () => {
      sandbox.faults.dropNext({ endpoint: "verify", ms: 10_000 });
      const started = performance.now();
      const error = await rejectsWith(() => providerWith({ timeoutMs: 250 }).verify("slow"), "unavailable", {
        httpStatus: null,
      });
      assert.match(error.message, /timed out after 250 ms/);
      assert.ok(performance.now() - started < 5_000);
    });

    await t.step("a delayed answer within timeoutMs still succeeds", async () => {
      const i = input();
      await provider.initialize(i);
      sandbox.faults.delay(100, "verify");
      const verified = await providerWith({ timeoutMs: 2_000 }).verify(i.reference);
      assert.equal(verified.status, "abandoned");
      sandbox.faults.delay(0, "verify");
    });

    await t.step("verify of an unknown reference → not_found", async () => {
      await rejectsWith(() => provider.verify("never-initialized"), "not_found", {
        httpStatus: 404,
        providerMessage: /Transaction reference not found/,
      });
    });

    await t.step(
      "a wrong secret key → unauthorized 401 'Invalid key' (our configuration, not the customer)",
      async () => {
        const wrong = providerWith({ secretKey: "sk_test_wrong" });
        const i = input();
        const error = await rejectsWith(() => wrong.initialize(i), "unauthorized", {
          httpStatus: 401,
          providerMessage: /^Invalid key$/,
        });
        assert.ok(!error.message.includes("sk_test_wrong"), "the key must never appear in errors");
        await rejectsWith(() => wrong.verify(i.reference), "unauthorized", { httpStatus: 401 });
        const refund = { transaction: i.reference, amount: i.amount, currency: i.currency, merchantNote: "refund:1" };
        await rejectsWith(() => wrong.refund(refund), "unauthorized", { httpStatus: 401 });
        await rejectsWith(() => wrong.fetchRefund("7000001"), "unauthorized", { httpStatus: 401 });
        await rejectsWith(() => wrong.listRefunds({ transaction: "4000000001" }), "unauthorized", { httpStatus: 401 });
        // Nothing was created under the refused key: the right key can initialize the same reference.
        assert.equal((await provider.initialize(i)).reference, i.reference);
      },
    );

    await t.step("a 401 or 403 answered by the provider (a rotated key) → unauthorized on every endpoint", async () => {
      const i = input();
      await provider.initialize(i);
      for (const status of [401, 403]) {
        sandbox.faults.failNext({ endpoint: "initialize", status });
        await rejectsWith(() => provider.initialize(input()), "unauthorized", { httpStatus: status });
        // 401/403 before "not found": a refused key tells nothing about the reference.
        sandbox.faults.failNext({ endpoint: "verify", status });
        await rejectsWith(() => provider.verify("never-initialized"), "unauthorized", { httpStatus: status });
        sandbox.faults.failNext({ endpoint: "refund", status });
        const refund = { transaction: i.reference, amount: i.amount, currency: i.currency, merchantNote: "refund:1" };
        await rejectsWith(() => provider.refund(refund), "unauthorized", { httpStatus: status });
        sandbox.faults.failNext({ endpoint: "refund_fetch", status });
        await rejectsWith(() => provider.fetchRefund("7000001"), "unauthorized", { httpStatus: status });
        sandbox.faults.failNext({ endpoint: "refund_list", status });
        await rejectsWith(() => provider.listRefunds({ transaction: "4000000001" }), "unauthorized", {
          httpStatus: status,
        });
      }
      assert.deepEqual(sandbox.faults.snapshot().api, []);
    });

    await t.step("a connection refused → unavailable", async () => {
      const closed = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: "http://127.0.0.1:9" });
      await rejectsWith(() => closed.verify("x"), "unavailable", { httpStatus: null });
    });
  });
});

Deno.test("answers that are not Paystack's → invalid_response; 5xx with HTML → unavailable", async () => {
  const answering = (status: number, body: string, type = "text/html"): typeof fetch => () =>
    Promise.resolve(new Response(body, { status, headers: { "Content-Type": type } }));
  const make = (f: typeof fetch) => createPaystackProvider({ secretKey: "sk_test_x", baseUrl: "http://x", fetch: f });

  await rejectsWith(() => make(answering(200, "<html>maintenance</html>")).verify("r"), "invalid_response", {
    httpStatus: 200,
  });
  const wrongShape = JSON.stringify({ status: true, message: "ok", data: { status: "weird", reference: "r" } });
  await rejectsWith(() => make(answering(200, wrongShape, "application/json")).verify("r"), "invalid_response");
  const otherReference = JSON.stringify({
    status: true,
    message: "ok",
    data: { status: "success", reference: "other", amount: 1, currency: "NGN" },
  });
  await rejectsWith(() => make(answering(200, otherReference, "application/json")).verify("r"), "invalid_response");
  await rejectsWith(() => make(answering(502, "<html>bad gateway</html>")).verify("r"), "unavailable", {
    httpStatus: 502,
  });
  const badCurrency = JSON.stringify({
    status: true,
    message: "ok",
    data: { status: "success", reference: "r", amount: 1, currency: "NAIRA" },
  });
  await rejectsWith(() => make(answering(200, badCurrency, "application/json")).verify("r"), "invalid_response");
  const lowerCase = JSON.stringify({
    status: true,
    message: "ok",
    data: { status: "success", reference: "r", amount: 1, currency: "ngn" },
  });
  assert.equal((await make(answering(200, lowerCase, "application/json")).verify("r")).currency, "NGN");
  // Without requested_amount and fees (older answers): the amount asked is the amount charged.
  const bare = JSON.stringify({
    status: true,
    message: "ok",
    data: { status: "success", reference: "r", amount: 1_000, currency: "NGN" },
  });
  const plain = await make(answering(200, bare, "application/json")).verify("r");
  assert.deepEqual([plain.amount, plain.requestedAmount, plain.fees], [1_000, 1_000, null]);
  // Charged less than asked: reported as sent (the credit path must see amount < requestedAmount), never evened out.
  const underpaid = JSON.stringify({
    status: true,
    message: "ok",
    data: { status: "success", reference: "r", amount: 1_000, requested_amount: 5_000, fees: 15, currency: "NGN" },
  });
  const short = await make(answering(200, underpaid, "application/json")).verify("r");
  assert.deepEqual([short.amount, short.requestedAmount, short.fees], [1_000, 5_000, 15]);
  for (const fees of [-1, 1.5, "15"]) {
    const badFees = JSON.stringify({
      status: true,
      message: "ok",
      data: { status: "success", reference: "r", amount: 1_000, fees, currency: "NGN" },
    });
    await rejectsWith(() => make(answering(200, badFees, "application/json")).verify("r"), "invalid_response");
  }
  // 401/403 are unauthorized even without Paystack's envelope.
  await rejectsWith(() => make(answering(401, "<html>no</html>")).verify("r"), "unauthorized", { httpStatus: 401 });
  await rejectsWith(() => make(answering(403, "Forbidden", "text/plain")).verify("r"), "unauthorized", {
    httpStatus: 403,
  });
  const falseOn200 = JSON.stringify({ status: false, message: "Nope" });
  await rejectsWith(() => make(answering(200, falseOn200, "application/json")).verify("r"), "rejected", {
    providerMessage: /^Nope$/,
  });
});

Deno.test("invalid input is refused before any request is sent", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const base = { reference: ref(), amount: 100, currency: "NGN", email: "i@example.ng" };
    for (const bad of [0, -5, 1.5, Number.NaN, 2 ** 53]) {
      await assert.rejects(() => provider.initialize({ ...base, amount: bad }), RangeError);
    }
    for (const bad of ["ngn", "NG", "NGNN", ""]) {
      await assert.rejects(() => provider.initialize({ ...base, currency: bad }), RangeError);
    }
    await assert.rejects(() => provider.initialize({ ...base, reference: "has space" }), RangeError);
    const refund = { transaction: base.reference, amount: 100, currency: "NGN", merchantNote: "refund:1" };
    for (const bad of [0, -1, 1.5]) await assert.rejects(() => provider.refund({ ...refund, amount: bad }), RangeError);
    await assert.rejects(() => provider.refund({ ...refund, currency: "ngn" }), RangeError);
    await assert.rejects(() => provider.refund({ ...refund, transaction: "has space" }), RangeError);
    for (const bad of ["", " ", "x".repeat(501)]) {
      await assert.rejects(() => provider.refund({ ...refund, merchantNote: bad }), RangeError);
    }
    await assert.rejects(() => provider.refund({ ...refund, customerNote: "" }), RangeError);
    for (const bad of ["", "abc", "12a", "1".repeat(21)]) {
      await assert.rejects(() => provider.fetchRefund(bad), RangeError);
    }
    await assert.rejects(() => provider.listRefunds({ transaction: "" }), RangeError);
    assert.equal(sandbox.stats.calls.initialize, 0);
    assert.equal(sandbox.stats.calls.refund, 0);
    assert.equal(sandbox.stats.calls.refund_fetch, 0);
    assert.equal(sandbox.stats.calls.refund_list, 0);
    assert.equal(sandbox.stats.calls.verify, 0);
  });
  assert.throws(() => createPaystackProvider({ secretKey: "" }), TypeError);
});
