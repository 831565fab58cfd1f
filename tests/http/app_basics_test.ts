import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { signDevToken } from "../../src/auth/dev_token.ts";

Deno.test("service basics", async (t) => {
  const stack = await startTestStack();
  try {
    await t.step("GET /health → 200 with a request id", async () => {
      const res = await stack.request("/health");
      assert.deepEqual(await expectJson(res, 200), { status: "ok" });
      assert.ok(res.headers.get("x-request-id"));
    });

    await t.step("a sane incoming X-Request-Id is echoed, a bad one replaced", async () => {
      const kept = await stack.request("/health", { headers: { "X-Request-Id": "trace-123" } });
      await kept.body?.cancel();
      assert.equal(kept.headers.get("x-request-id"), "trace-123");
      const replaced = await stack.request("/health", { headers: { "X-Request-Id": "x".repeat(300) } });
      await replaced.body?.cancel();
      assert.notEqual(replaced.headers.get("x-request-id"), "x".repeat(300));
    });

    await t.step("GET /ready → 200 ok when the database and Redis answer", async () => {
      const body = await expectJson(await stack.request("/ready"), 200);
      assert.equal(body.status, "ok");
      assert.deepEqual(body.checks, { database: { status: "ok" }, redis: { status: "ok" } });
    });

    await t.step("unknown routes → 404 problem+json", async () => {
      await expectProblem(await stack.request("/nope"), 404, "not_found");
    });

    await t.step("wrong method → 405 problem+json with Allow", async () => {
      const token = await stack.userToken();
      const res = await send(stack, "PUT", "/v1/payments", { token, body: {} });
      await expectProblem(res, 405, "method_not_allowed");
      assert.match(res.headers.get("allow") ?? "", /POST/);
      await expectProblem(await stack.request("/health", { method: "DELETE" }), 405, "method_not_allowed");
    });

    await t.step("bodies over the limit → 413", async () => {
      const token = await stack.userToken();
      const res = await send(stack, "POST", "/v1/payments", {
        token,
        body: JSON.stringify({ amount: 5000, currency: "NGN", metadata: { x: "y".repeat(200_000) } }),
        headers: { "Idempotency-Key": "big" },
      });
      await expectProblem(res, 413, "payload_too_large");
    });

    await t.step("user routes need a valid user token", async () => {
      await expectProblem(await stack.request("/v1/payments"), 401, "unauthorized");
      await expectProblem(
        await send(stack, "GET", "/v1/payments", { token: "garbage" }),
        401,
        "invalid_token",
      );
      const expired = await signDevToken({
        secret: stack.config.auth.jwtSecret!,
        userId: crypto.randomUUID(),
        issuedAt: Math.floor(Date.now() / 1000) - 7200,
      });
      await expectProblem(await send(stack, "GET", "/v1/payments", { token: expired }), 401, "invalid_token");
      const wrongKey = await signDevToken({
        secret: "another-secret-of-at-least-thirty-two-characters",
        userId: crypto.randomUUID(),
      });
      await expectProblem(await send(stack, "GET", "/v1/payments", { token: wrongKey }), 401, "invalid_token");
      const service = await stack.serviceToken();
      await expectProblem(await send(stack, "GET", "/v1/payments", { token: service }), 401, "invalid_token");
    });

    await t.step("service routes refuse user tokens", async () => {
      const res = await send(stack, "POST", "/v1/jobs/reconcile", { token: await stack.userToken() });
      await expectProblem(res, 403, "forbidden");
      await expectProblem(await send(stack, "POST", "/v1/jobs/reconcile"), 401, "unauthorized");
    });

    await t.step("no response or log line carries a secret", () => {
      const text = JSON.stringify(stack.logs);
      assert.ok(!text.includes(stack.config.provider.secretKey));
      assert.ok(!text.includes(stack.config.auth.jwtSecret!));
    });
  } finally {
    await stack.close();
  }
});
