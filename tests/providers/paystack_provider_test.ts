/**
 * The Paystack adapter against the sandbox Paystack, over real HTTP, with a
 * real Postgres behind the sandbox.
 */
import assert from "node:assert/strict";
import { ProviderError, type ProviderErrorKind } from "../../src/providers/payment_provider.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { verifyPaystackSignature } from "../../src/providers/paystack_signature.ts";
import { SANDBOX_SECRET_KEY } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { submitCheckout, withSandbox } from "./sandbox_fixture.ts";

function ref(): string {
  return `pay-${crypto.randomUUID()}`;
}

async function rejectsWith(
  run: () => Promise<unknown>,
  kind: ProviderErrorKind,
  expect: { httpStatus?: number | null; providerMessage?: RegExp } = {},
): Promise<ProviderError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProviderError, `expected a ProviderError, got ${caught}`);
  assert.equal(caught.kind, kind, caught.message);
  if (expect.httpStatus !== undefined) assert.equal(caught.httpStatus, expect.httpStatus);
  if (expect.providerMessage) assert.match(caught.providerMessage ?? "", expect.providerMessage);
  assert.ok(!caught.message.includes(SANDBOX_SECRET_KEY), "the secret key must never appear in errors");
  return caught;
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
    assert.equal(verified.currency, "NGN");
    assert.equal(verified.gatewayResponse, "Successful");
    assert.ok(verified.paidAt !== null && !Number.isNaN(Date.parse(verified.paidAt)));
    assert.match(verified.providerTransactionId ?? "", /^\d+$/);
    const raw = verified.raw as Record<string, unknown>;
    assert.deepEqual(raw.metadata, { user_id: "u-1" });
    assert.equal((raw.customer as { email: string }).email, "ada@example.ng");
    assert.equal(raw.channel, "card");

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
    assert.equal(verified.gatewayResponse, "Declined");
    await sandbox.idle();
    assert.equal(receiver.received.length, 0);
    assert.deepEqual(await sandbox.stats.deliveries(), []);
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
    assert.equal(verified.currency, "USD");
    assert.equal((verified.raw as { requested_amount: number }).requested_amount, 500_000);

    await sandbox.idle();
    assert.equal(receiver.received[0]?.json.data.amount, 100);
    assert.equal(receiver.received[0]?.json.data.currency, "USD");
  });
});

Deno.test("initialize() resolves a duplicate reference to the same checkout instead of failing", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const reference = ref();
    const input = { reference, amount: 42_00, currency: "NGN", email: "dup@example.ng" };
    const first = await provider.initialize(input);
    // A retry after a crash between the provider call and storing its answer.
    const again = await provider.initialize(input);
    assert.deepEqual(again, first);
    assert.equal(sandbox.stats.calls.initialize, 2);
    assert.equal(sandbox.stats.calls.verify, 1);
    assert.equal(sandbox.stats.calls.checkout, 0);

    // The resumed URL is a working checkout page.
    const page = await fetch(again.authorizationUrl);
    assert.equal(page.status, 200);
    assert.ok((await page.text()).includes(reference));

    // The same reference for another amount is not "the same payment": refused, never resumed.
    await rejectsWith(() => provider.initialize({ ...input, amount: 43_00 }), "rejected", {
      httpStatus: 400,
      providerMessage: /Duplicate Transaction Reference/,
    });

    // Once paid, the reference cannot be checked out again: a definite refusal.
    await submitCheckout(first.authorizationUrl, { outcome: "success" });
    const refused = await rejectsWith(() => provider.initialize(input), "rejected", {
      httpStatus: 400,
      providerMessage: /Duplicate Transaction Reference/,
    });
    assert.match(refused.message, /already success/);
  });
});

Deno.test("initialize() builds the checkout URL from access_code when verify carries no authorization_url", async () => {
  // Real Paystack's verify documents no authorization_url; model that by stripping it from the sandbox's answer.
  await withSandbox(async ({ baseUrl, provider }) => {
    const reference = ref();
    const first = await provider.initialize({ reference, amount: 1_000, currency: "NGN", email: "s@example.ng" });
    const stripping: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).includes("/transaction/verify/")) return response;
      const body = await response.json();
      delete body.data.authorization_url;
      return Response.json(body, { status: response.status });
    };
    const paystack = createPaystackProvider({
      secretKey: SANDBOX_SECRET_KEY,
      baseUrl,
      checkoutBaseUrl: "https://checkout.paystack.com",
      fetch: stripping,
    });
    const again = await paystack.initialize({ reference, amount: 1_000, currency: "NGN", email: "s@example.ng" });
    assert.equal(again.accessCode, first.accessCode);
    assert.equal(again.authorizationUrl, `https://checkout.paystack.com/${first.accessCode}`);
  });
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

    await t.step("a wrong secret key → rejected 401 'Invalid key'", async () => {
      await rejectsWith(() => providerWith({ secretKey: "sk_test_wrong" }).initialize(input()), "rejected", {
        httpStatus: 401,
        providerMessage: /^Invalid key$/,
      });
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
    await assert.rejects(() => provider.refund({ reference: base.reference, amount: 0 }), RangeError);
    assert.equal(sandbox.stats.calls.initialize, 0);
    assert.equal(sandbox.stats.calls.refund, 0);
  });
  assert.throws(() => createPaystackProvider({ secretKey: "" }), TypeError);
});

Deno.test("refund(): full, partial, never more than what remains, only for successful payments", async () => {
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const pay = async (amount: number) => {
      const reference = ref();
      const init = await provider.initialize({ reference, amount, currency: "NGN", email: "r@example.ng" });
      await submitCheckout(init.authorizationUrl, { outcome: "success" });
      return reference;
    };

    const full = await pay(20_000);
    const refunded = await provider.refund({ reference: full, merchantNote: "customer asked" });
    assert.equal(refunded.amount, 20_000);
    assert.equal(refunded.currency, "NGN");
    assert.equal(refunded.status, "pending");
    assert.match(refunded.refundId, /^\d+$/);
    assert.equal((await provider.verify(full)).status, "reversed");
    await rejectsWith(() => provider.refund({ reference: full, amount: 1 }), "rejected", {
      httpStatus: 400,
      providerMessage: /fully reversed/,
    });

    const partial = await pay(30_000);
    assert.equal((await provider.refund({ reference: partial, amount: 10_000 })).amount, 10_000);
    assert.equal((await provider.refund({ reference: partial, amount: 15_000, currency: "NGN" })).amount, 15_000);
    await rejectsWith(() => provider.refund({ reference: partial, amount: 5_001 }), "rejected", {
      httpStatus: 400,
      providerMessage: /greater than/,
    });
    await rejectsWith(() => provider.refund({ reference: partial, amount: 100, currency: "USD" }), "rejected", {
      httpStatus: 400,
    });
    assert.equal((await provider.verify(partial)).status, "success");
    assert.equal((await provider.refund({ reference: partial })).amount, 5_000);

    const unpaid = ref();
    await provider.initialize({ reference: unpaid, amount: 1_000, currency: "NGN", email: "u@example.ng" });
    await rejectsWith(() => provider.refund({ reference: unpaid }), "rejected", { httpStatus: 400 });
    await rejectsWith(() => provider.refund({ reference: "no-such-payment" }), "rejected", { httpStatus: 404 });

    await sandbox.idle();
    const refundEvents = receiver.received.filter((w) => w.json.event === "refund.processed");
    assert.deepEqual(refundEvents.map((w) => w.json.data.amount), [20_000, 10_000, 15_000, 5_000]);
    for (const w of refundEvents) {
      assert.equal(await verifyPaystackSignature(SANDBOX_SECRET_KEY, w.rawBody, w.signature), true);
    }
    assert.equal(refundEvents[0]?.json.data.transaction_reference, full);
  });
});
