import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";

const body = { amount: 500_000, currency: "NGN" };

Deno.test("POST /v1/payments", async (t) => {
  const stack = await startTestStack();
  const sandbox = stack.runtime.sandbox!;
  const metrics = stack.runtime.metrics;
  const rpcCalls = () =>
    ["begin_payment_request", "complete_payment_request", "release_payment_request"]
      .reduce((n, fn) => n + metrics.get("db_rpc_requests_total", { fn }), 0);
  const countPayments = async (userId: string) =>
    Number(
      (await stack.database.db.query<{ n: string }>(
        "select count(*)::int8 as n from payment_logs where user_id = $1",
        [userId],
      ))[0]!.n,
    );

  try {
    await t.step("creates a payment: 201, 2 RPCs and 1 provider call", async () => {
      const user = crypto.randomUUID();
      const token = await stack.userToken(user);
      const rpcBefore = rpcCalls();
      const providerBefore = sandbox.stats.calls.initialize;
      const res = await send(stack, "POST", "/v1/payments", { token, body, headers: { "Idempotency-Key": "k-1" } });
      const json = await expectJson(res, 201);
      assert.equal(res.headers.get("idempotent-replayed"), null);
      assert.match(String(json.reference), /^[A-Za-z0-9.=-]+$/);
      assert.equal(json.state, "pending");
      assert.equal(json.amount, 500_000);
      assert.equal(json.currency, "NGN");
      assert.equal(json.provider, "paystack");
      assert.match(String(json.authorization_url), /\/sandbox\/paystack\/checkout\//);
      assert.ok(!Number.isNaN(Date.parse(String(json.created_at))));
      assert.equal(rpcCalls() - rpcBefore, 2);
      assert.equal(sandbox.stats.calls.initialize - providerBefore, 1);
      assert.equal(await countPayments(user), 1);
    });

    await t.step("a retry with the same key and body replays the first answer in 1 RPC", async () => {
      const token = await stack.userToken();
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      const first = await send(stack, "POST", "/v1/payments", { token, body, headers });
      const firstText = await first.text();
      const rpcBefore = rpcCalls();
      const providerBefore = sandbox.stats.calls.initialize;
      const again = await send(stack, "POST", "/v1/payments", {
        token,
        body: { currency: "NGN", amount: 500_000 }, // same payload, other key order
        headers,
      });
      assert.equal(again.status, first.status);
      assert.match(again.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(JSON.parse(await again.text()), JSON.parse(firstText));
      assert.equal(rpcCalls() - rpcBefore, 1);
      assert.equal(sandbox.stats.calls.initialize - providerBefore, 0);
    });

    await t.step("same key, different body → 422 idempotency_key_reused, nothing created", async () => {
      const user = crypto.randomUUID();
      const token = await stack.userToken(user);
      const headers = { "Idempotency-Key": "reuse-me" };
      await expectJson(await send(stack, "POST", "/v1/payments", { token, body, headers }), 201);
      const providerBefore = sandbox.stats.calls.initialize;
      const res = await send(stack, "POST", "/v1/payments", { token, body: { ...body, amount: 600_000 }, headers });
      await expectProblem(res, 422, "idempotency_key_reused");
      assert.equal(await countPayments(user), 1);
      assert.equal(sandbox.stats.calls.initialize - providerBefore, 0);
    });

    await t.step("keys are scoped per user: B reusing A's key gets a fresh payment", async () => {
      const headers = { "Idempotency-Key": "shared-key" };
      const a = await expectJson(
        await send(stack, "POST", "/v1/payments", { token: await stack.userToken(), body, headers }),
        201,
      );
      const res = await send(stack, "POST", "/v1/payments", { token: await stack.userToken(), body, headers });
      const b = await expectJson(res, 201);
      assert.equal(res.headers.get("idempotent-replayed"), null);
      assert.notEqual(b.reference, a.reference);
    });

    await t.step("missing or invalid Idempotency-Key → 400", async () => {
      const token = await stack.userToken();
      await expectProblem(await send(stack, "POST", "/v1/payments", { token, body }), 400, "idempotency_key_missing");
      for (const bad of ["", "x".repeat(256), "has space", "caf\u00e9"]) {
        const res = await send(stack, "POST", "/v1/payments", { token, body, headers: { "Idempotency-Key": bad } });
        await expectProblem(res, 400, "idempotency_key_invalid");
      }
    });

    await t.step(
      "invalid bodies → 422 validation_failed, not stored: a corrected retry with the key works",
      async () => {
        const user = crypto.randomUUID();
        const token = await stack.userToken(user);
        const headers = { "Idempotency-Key": "fix-and-retry" };
        const invalid: unknown[] = [
          { amount: 10.5, currency: "NGN" },
          { amount: -1, currency: "NGN" },
          { amount: 0, currency: "NGN" },
          { amount: 50, currency: "NGN" }, // below the NGN minimum
          { amount: 10 ** 13, currency: "NGN" },
          { amount: "5000", currency: "NGN" },
          { amount: 5000, currency: "XYZ" },
          { amount: 5000, currency: "ngn" },
          { amount: 5000, currency: "NGN", email: "not-an-email" },
          { amount: 5000, currency: "NGN", metadata: { blob: "x".repeat(5000) } },
          { amount: 5000, currency: "NGN", surprise: true },
          [],
        ];
        for (const bad of invalid) {
          const problem = await expectProblem(
            await send(stack, "POST", "/v1/payments", { token, body: bad, headers }),
            422,
            "validation_failed",
          );
          assert.ok(Array.isArray(problem.errors) && problem.errors.length > 0);
        }
        await expectProblem(
          await send(stack, "POST", "/v1/payments", { token, body: "{not json", headers }),
          400,
          "malformed_json",
        );
        await expectProblem(
          await send(stack, "POST", "/v1/payments", {
            token,
            body: JSON.stringify(body),
            headers: { ...headers, "Content-Type": "text/plain" },
          }),
          415,
          "unsupported_media_type",
        );
        assert.equal(await countPayments(user), 0);
        await expectJson(await send(stack, "POST", "/v1/payments", { token, body, headers }), 201);
      },
    );

    await t.step("no e-mail in the body nor in the token → 422", async () => {
      const token = await stack.userToken(crypto.randomUUID(), { email: null });
      const res = await send(stack, "POST", "/v1/payments", { token, body, headers: { "Idempotency-Key": "mail" } });
      await expectProblem(res, 422, "validation_failed");
      const ok = await send(stack, "POST", "/v1/payments", {
        token,
        body: { ...body, email: "payer@example.test" },
        headers: { "Idempotency-Key": "mail" },
      });
      await expectJson(ok, 201);
    });

    await t.step(
      "100 concurrent requests, one key → one payment, one provider call, 409s or identical replays",
      async () => {
        const user = crypto.randomUUID();
        const token = await stack.userToken(user);
        const headers = { "Idempotency-Key": crypto.randomUUID() };
        const providerBefore = sandbox.stats.calls.initialize;
        const responses = await Promise.all(
          Array.from({ length: 100 }, () => send(stack, "POST", "/v1/payments", { token, body, headers })),
        );
        const results = await Promise.all(responses.map(async (r) => ({
          status: r.status,
          replayed: r.headers.get("idempotent-replayed"),
          retryAfter: r.headers.get("retry-after"),
          body: await r.json(),
        })));
        const created = results.filter((r) => r.status === 201);
        const conflicts = results.filter((r) => r.status === 409);
        assert.equal(created.length + conflicts.length, 100, JSON.stringify(results.map((r) => r.status)));
        assert.equal(created.filter((r) => r.replayed === null).length, 1);
        for (const r of created) assert.deepEqual(r.body, created[0]!.body);
        for (const r of conflicts) {
          assert.equal(r.body.code, "idempotency_key_in_use");
          assert.ok(Number(r.retryAfter) >= 1);
        }
        assert.equal(await countPayments(user), 1);
        assert.equal(sandbox.stats.calls.initialize - providerBefore, 1);
      },
    );

    await t.step("409 idempotency_key_in_use with Retry-After while the first is in flight", async () => {
      const token = await stack.userToken();
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      // The provider holds the first request; the second is sent once the first has reached it (so its key
      // is claimed), not after a guessed sleep.
      sandbox.faults.delay(3_000, "initialize");
      try {
        const calls = sandbox.stats.calls.initialize;
        const first = send(stack, "POST", "/v1/payments", { token, body, headers });
        for (let polls = 0; sandbox.stats.calls.initialize === calls; polls++) {
          assert.ok(polls < 2_000, "the first request never reached the provider");
          await new Promise((r) => setTimeout(r, 5));
        }
        const second = await send(stack, "POST", "/v1/payments", { token, body, headers });
        await expectProblem(second, 409, "idempotency_key_in_use");
        assert.ok(Number(second.headers.get("retry-after")) >= 1);
        await expectJson(await first, 201);
      } finally {
        sandbox.faults.reset();
      }
    });

    await t.step(
      "provider 503 → 503 and the key stays at its recovery point; the retry completes with the same reference",
      async () => {
        const user = crypto.randomUUID();
        const token = await stack.userToken(user);
        const headers = { "Idempotency-Key": crypto.randomUUID() };
        sandbox.faults.failNext({ endpoint: "initialize", status: 503 });
        const failed = await send(stack, "POST", "/v1/payments", { token, body, headers });
        await expectProblem(failed, 503, "provider_unavailable");
        assert.ok(failed.headers.get("retry-after"));
        const [row] = await stack.database.db.query<{ reference: string }>(
          "select reference from payment_logs where user_id = $1",
          [user],
        );
        const retried = await expectJson(await send(stack, "POST", "/v1/payments", { token, body, headers }), 201);
        assert.equal(retried.reference, row!.reference);
        assert.equal(await countPayments(user), 1);
      },
    );

    await t.step("a definite provider refusal (4xx) is stored and replayed, and the payment is failed", async () => {
      const user = crypto.randomUUID();
      const token = await stack.userToken(user);
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      sandbox.faults.failNext({ endpoint: "initialize", status: 400, message: "Invalid amount" });
      const first = await expectProblem(
        await send(stack, "POST", "/v1/payments", { token, body, headers }),
        422,
        "provider_rejected",
      );
      const providerBefore = sandbox.stats.calls.initialize;
      const again = await send(stack, "POST", "/v1/payments", { token, body, headers });
      const replayed = await expectProblem(again, 422, "provider_rejected");
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(replayed, first);
      assert.equal(sandbox.stats.calls.initialize - providerBefore, 0);
      const [row] = await stack.database.db.query<{ state: string }>(
        "select state::text from payment_logs where user_id = $1",
        [user],
      );
      assert.equal(row?.state, "failed");
    });
  } finally {
    await stack.close();
  }
});
