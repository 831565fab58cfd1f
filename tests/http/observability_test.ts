import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectProblem, send } from "../support/http_helpers.ts";
import { createPayment, payAtCheckout, postWebhook } from "../support/payment_flow.ts";

/** The value of one sample of the Prometheus text `text` (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const [series, value] = line.split(/\s+/);
    if (Object.entries(labels).every(([k, v]) => series!.includes(`${k}="${v}"`))) return Number(value);
  }
  return 0;
}

Deno.test("observability: /metrics and the request's log lines", async (t) => {
  const stack = await startTestStack();
  const scrape = async () => {
    const res = await send(stack, "GET", "/metrics", { token: await stack.serviceToken() });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return await res.text();
  };
  try {
    await t.step("GET /metrics needs the service role", async () => {
      await expectProblem(await stack.request("/metrics"), 401, "unauthorized");
      await expectProblem(await send(stack, "GET", "/metrics", { token: await stack.userToken() }), 403, "forbidden");
    });

    await t.step("requests are counted and timed per route pattern and status, never per concrete path", async () => {
      const token = await stack.userToken();
      for (const reference of ["pay-none-1", "pay-none-2"]) {
        await expectProblem(await send(stack, "GET", `/v1/payments/${reference}`, { token }), 404, "payment_not_found");
      }
      const text = await scrape();
      const labels = { method: "GET", route: "/v1/payments/:reference", status: "404" };
      assert.equal(sample(text, "http_requests_total", labels), 2);
      assert.equal(sample(text, "http_request_duration_seconds_count", labels), 2);
      assert.ok(!text.includes("pay-none-1"));
      assert.ok(sample(text, "http_requests_total", { route: "/metrics", status: "403" }) >= 1);
      assert.ok(sample(text, "db_rpc_duration_seconds_count", { fn: "get_payment", status: "200" }) >= 2);
    });

    await t.step(
      "/metrics moves when a payment settles: transitions, credits, webhooks, lock, idempotency",
      async () => {
        const before = await scrape();
        const payment = await createPayment(stack);
        await payAtCheckout(payment, "success");
        await stack.runtime.sandbox!.idle();
        const forged = await postWebhook(stack, JSON.stringify({ event: "charge.success", data: {} }), {
          signature: "0".repeat(128),
        });
        await expectProblem(forged, 401, "invalid_signature");
        const after = await scrape();
        const moved = (name: string, labels: Record<string, string>) =>
          sample(after, name, labels) - sample(before, name, labels);
        assert.equal(moved("payment_transitions_total", { from: "none", to: "pending", actor: "api" }), 1);
        assert.equal(moved("payment_transitions_total", { from: "processing", to: "completed", actor: "webhook" }), 1);
        assert.equal(moved("ledger_credits_total", { currency: "NGN" }), 1);
        assert.equal(moved("ledger_credited_minor_units_total", { currency: "NGN" }), payment.amount);
        assert.equal(moved("webhooks_total", { provider: "paystack", outcome: "credited" }), 1);
        assert.equal(moved("webhooks_total", { provider: "paystack", outcome: "bad_signature" }), 1);
        assert.equal(moved("lock_acquisitions_total", { actor: "webhook", outcome: "acquired" }), 1);
        assert.equal(moved("idempotency_requests_total", { outcome: "first" }), 1);
      },
    );

    await t.step("idempotency replays and conflicts are counted", async () => {
      const before = await scrape();
      const token = await stack.userToken();
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      const body = { amount: 5000, currency: "NGN" };
      for (let i = 0; i < 2; i++) {
        const res = await send(stack, "POST", "/v1/payments", { token, body, headers });
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }
      await expectProblem(
        await send(stack, "POST", "/v1/payments", { token, body: { ...body, amount: 6000 }, headers }),
        422,
        "idempotency_key_reused",
      );
      const after = await scrape();
      const moved = (outcome: string) =>
        sample(after, "idempotency_requests_total", { outcome }) -
        sample(before, "idempotency_requests_total", { outcome });
      assert.deepEqual([moved("first"), moved("replay"), moved("mismatch")], [1, 1, 1]);
    });

    await t.step(
      "a money event's log line carries the request id, user id, reference, transition, outcome",
      async () => {
        const userId = crypto.randomUUID();
        const token = await stack.userToken(userId, { email: "ada@example.test" });
        const res = await send(stack, "POST", "/v1/payments", {
          token,
          body: { amount: 7000, currency: "NGN" },
          headers: { "Idempotency-Key": crypto.randomUUID(), "X-Request-Id": "trace-init-1" },
        });
        const { reference, authorization_url: authorizationUrl } = await res.json();
        const initialized = stack.logs.find((l) => l.msg === "payment initialized" && l.reference === reference);
        assert.ok(initialized, "no 'payment initialized' line");
        assert.equal(initialized.request_id, "trace-init-1");
        assert.equal(initialized.user_id, userId);
        assert.equal(initialized.transition, "none→pending");
        assert.equal(initialized.outcome, "initialized");
        const verify = await send(stack, "POST", `/v1/payments/${reference}/verify`, {
          token,
          headers: { "X-Request-Id": "trace-verify-1" },
        });
        await verify.body?.cancel();
        await payAtCheckout({ userId, token, reference, authorizationUrl, amount: 7000, currency: "NGN" }, "success");
        await stack.runtime.sandbox!.idle();
        const credited = stack.logs.find((l) => l.msg === "payment credited" && l.reference === reference);
        assert.ok(credited, "no 'payment credited' line");
        assert.equal(credited.user_id, userId);
        assert.equal(credited.provider_reference, reference);
        assert.equal(credited.transition, "processing→completed");
        assert.equal(credited.outcome, "credited");
        assert.equal(typeof credited.request_id, "string"); // the webhook request's
        const webhookLine = stack.logs.find((l) =>
          l.msg === "request" && l.path === "/v1/webhooks/paystack" && l.request_id === credited.request_id
        );
        assert.ok(webhookLine, "the credit line's request id is the webhook request's");
        const everything = JSON.stringify(stack.logs);
        assert.ok(!everything.includes("ada@example.test"), "an e-mail address reached the logs");
        assert.ok(!everything.includes(token), "a token reached the logs");
      },
    );
  } finally {
    await stack.close();
  }
});
