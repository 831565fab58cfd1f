/**
 * What the service does with each kind of provider answer, the provider
 * scripted per test: answers the sandbox never gives (another payment's
 * transaction, `reversed`, a 401 for our own key) included.
 */
import assert from "node:assert/strict";
import { type InitializeInput, ProviderError } from "../../src/payments/payment_provider.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { checkoutFor, transaction } from "../support/scripted_provider.ts";
import { appDatabase, createTestApp, type InitializedPayment, initializePayment, type TestApp } from "./app_harness.ts";

const database = await appDatabase();

/** `POST /v1/payments/:reference/verify` as the payment's owner. */
function verify(app: TestApp, payment: InitializedPayment): Promise<Response> {
  return send(app, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
}

/** The user's NGN balance (0 without a wallet). */
async function balance(app: TestApp, payment: InitializedPayment): Promise<number> {
  const wallet = await expectJson<{ balances: Array<{ currency: string; balance: number }> }>(
    await send(app, "GET", "/v1/wallet", { token: payment.token }),
    200,
  );
  return wallet.balances.find((b) => b.currency === "NGN")?.balance ?? 0;
}

Deno.test("provider answers, scripted", async (t) => {
  await t.step("initialize: 201 with the provider's checkout; a retry replays it without asking again", async () => {
    const app = createTestApp(database);
    const token = await app.userToken();
    const request = {
      token,
      body: { amount: 500_000, currency: "NGN" },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    };
    app.provider.script.initialize.push(checkoutFor);
    const first = await expectJson(await send(app, "POST", "/v1/payments", request), 201);
    const [call] = app.provider.calls.initialize;
    assert.equal(call?.reference, first.reference);
    assert.equal(call?.amount, 500_000);
    assert.equal(first.authorization_url, checkoutFor(call!).authorizationUrl);
    const again = await send(app, "POST", "/v1/payments", request);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await expectJson(again, 201), first);
    assert.equal(app.provider.calls.initialize.length, 1);
  });

  await t.step("initialize: the provider refusing our key (401) → 503, nothing failed; the retry resumes", async () => {
    const app = createTestApp(database);
    const token = await app.userToken();
    const request = {
      token,
      body: { amount: 120_000, currency: "NGN" },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    };
    app.provider.script.initialize.push(
      new ProviderError("unauthorized", "Invalid key", { httpStatus: 401, providerMessage: "Invalid key" }),
    );
    const refused = await send(app, "POST", "/v1/payments", request);
    await expectProblem(refused, 503, "provider_unavailable");
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    assert.ok(app.logs.some((l) => l.level === "error" && String(l.msg).includes("check the secret key")));
    const listed = await expectJson<{ items: Array<{ state: string; failure_reason: string | null }> }>(
      await send(app, "GET", "/v1/payments", { token }),
      200,
    );
    assert.deepEqual(listed.items.map((p) => [p.state, p.failure_reason]), [["pending", null]]);

    app.provider.script.initialize.push(checkoutFor);
    const resumed = await expectJson(await send(app, "POST", "/v1/payments", request), 201);
    const [before, after] = app.provider.calls.initialize as [InitializeInput, InitializeInput];
    assert.equal(after.reference, before.reference, "the retry reuses the payment's reference");
    assert.equal(resumed.reference, before.reference);
  });

  await t.step("verify: a success for the amount asked credits once", async () => {
    const app = createTestApp(database);
    const payment = await initializePayment(app, 300_000);
    app.provider.script.verify.push((reference) => transaction(reference, 300_000));
    const view = await expectJson(await verify(app, payment), 200);
    assert.equal(view.state, "completed");
    assert.equal(await balance(app, payment), 300_000);
  });

  await t.step("verify: the provider answering for another reference → 502 provider_error, no credit", async () => {
    const app = createTestApp(database);
    const payment = await initializePayment(app, 300_000);
    app.provider.script.verify.push(transaction("pay-someone-else", 300_000));
    await expectProblem(await verify(app, payment), 502, "provider_error");
    assert.deepEqual(app.provider.calls.verify, [payment.reference]);
    assert.equal(await balance(app, payment), 0);
    const view = await expectJson(await send(app, "GET", `/v1/payments/${payment.reference}`, payment), 200);
    assert.notEqual(view.state, "completed");
    assert.ok(app.logs.some((l) => l.level === "error" && l.msg === "provider answered for another reference"));
  });

  await t.step("verify: a reversed transaction fails the payment with the provider's status, no credit", async () => {
    const app = createTestApp(database);
    const payment = await initializePayment(app, 300_000);
    app.provider.script.verify.push((reference) =>
      transaction(reference, 300_000, { status: "reversed", gatewayResponse: "Reversed by the bank" })
    );
    const view = await expectJson(await verify(app, payment), 200);
    assert.equal(view.state, "failed");
    assert.equal(view.failure_reason, "provider_status: reversed (Reversed by the bank)");
    assert.equal(await balance(app, payment), 0);
  });

  for (const status of ["ongoing", "pending", "processing", "queued", "abandoned"] as const) {
    await t.step(
      `verify: '${status}' (not final) fails nothing, credits nothing; a later success credits`,
      async () => {
        const app = createTestApp(database);
        const payment = await initializePayment(app, 300_000);
        app.provider.script.verify.push((reference) => transaction(reference, 300_000, { status }));
        const view = await expectJson(await verify(app, payment), 200);
        // Verify marked it processing before asking; the answer moves it no further.
        assert.equal(view.state, "processing");
        assert.equal(view.failure_reason, null);
        assert.equal(await balance(app, payment), 0);
        app.provider.script.verify.push((reference) => transaction(reference, 300_000));
        assert.equal((await expectJson(await verify(app, payment), 200)).state, "completed");
        assert.equal(await balance(app, payment), 300_000);
      },
    );
  }

  await t.step("verify: the provider unreachable → 503 provider_unavailable with Retry-After", async () => {
    const app = createTestApp(database);
    const payment = await initializePayment(app);
    app.provider.script.verify.push(new ProviderError("unavailable", "Paystack timed out"));
    const res = await verify(app, payment);
    await expectProblem(res, 503, "provider_unavailable");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
  });
});
