import assert from "node:assert/strict";
import { Redis as IORedis } from "ioredis";
import { ignoreWithout } from "../support/services.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { freePort } from "../support/free_port.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { chargeSuccessBody, createPayment, postWebhook } from "../support/payment_flow.ts";

/** Starts a payment for `token` with a fresh key. */
function initialize(stack: TestStack, token: string): Promise<Response> {
  return send(stack, "POST", "/v1/payments", {
    token,
    body: { amount: 5000, currency: "NGN" },
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
}

const LIMITS = {
  RATE_LIMIT_INITIALIZE_PER_MINUTE: "3",
  RATE_LIMIT_VERIFY_PER_MINUTE: "2",
  RATE_LIMIT_WEBHOOK_PER_MINUTE: "4",
};

const throughRedis = "a burst is refused with 429 through the Upstash proxy and Redis";
Deno.test({
  name: `rate limiting: ${throughRedis}`,
  ignore: await ignoreWithout(["redis"], throughRedis, "the limiter under test is the Redis one"),
  fn: async (t) => {
    const stack = await startTestStack({ env: LIMITS });
    try {
      assert.equal(stack.config.redis.kind, "local");
      const userA = await stack.userToken();

      await t.step(
        "initialize: 3 per user per minute, then 429 rate_limited with Retry-After and RateLimit-*",
        async () => {
          const remaining: string[] = [];
          for (let i = 0; i < 3; i++) {
            const res = await initialize(stack, userA);
            await expectJson(res, 201);
            assert.equal(res.headers.get("ratelimit-limit"), "3");
            assert.equal(res.headers.get("ratelimit-policy"), "3;w=60");
            remaining.push(res.headers.get("ratelimit-remaining")!);
          }
          assert.deepEqual(remaining, ["2", "1", "0"]);
          const refused = await initialize(stack, userA);
          const problem = await expectProblem(refused, 429, "rate_limited");
          assert.match(String(problem.detail), /At most 3 requests per 60 s/);
          const retryAfter = Number(refused.headers.get("retry-after"));
          assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
          assert.equal(refused.headers.get("ratelimit-remaining"), "0");
          assert.ok(Number(refused.headers.get("ratelimit-reset")) >= 1);
        },
      );

      await t.step("the limit is per user: another user is not affected", async () => {
        await expectJson(await initialize(stack, await stack.userToken()), 201);
      });

      await t.step("the counters live in Redis, under the stack's prefix", async () => {
        if (stack.config.redis.kind !== "local") throw new Error("unreachable");
        const redis = new IORedis(stack.config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
          await redis.connect();
          const keys = await redis.keys(`${stack.config.lock.prefix}:ratelimit:initialize:*`);
          assert.ok(keys.length >= 2, keys.join(", "));
        } finally {
          redis.disconnect();
        }
      });

      await t.step("verify: 2 per user per minute", async () => {
        const payment = await createPayment(stack);
        const verify = () => send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
        await expectJson(await verify(), 200);
        await expectJson(await verify(), 200);
        await expectProblem(await verify(), 429, "rate_limited");
        // Reading is not limited.
        await expectJson(await send(stack, "GET", `/v1/payments/${payment.reference}`, { token: payment.token }), 200);
      });

      await t.step("webhooks and the database hook: per client IP, one budget", async () => {
        const payment = await createPayment(stack);
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await postWebhook(stack, chargeSuccessBody(payment, 42));
          statuses.push(res.status);
          await res.body?.cancel();
        }
        assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
        // The database hook shares the client IP's budget.
        const hook = await stack.request("/v1/hooks/database", {
          method: "POST",
          headers: { "Content-Type": "application/json", "x-db-webhook-secret": stack.config.dbWebhookSecret },
          body: JSON.stringify({ type: "UPDATE", table: "other", schema: "public", record: {}, old_record: null }),
        });
        await expectProblem(hook, 429, "rate_limited");
      });

      await t.step("decisions are counted", () => {
        const count = (limiter: string, decision: string) =>
          stack.runtime.metrics.get("rate_limit_decisions_total", { limiter, decision });
        assert.equal(count("initialize", "limited"), 1);
        assert.equal(count("verify", "limited"), 1);
        assert.equal(count("webhook", "limited"), 2);
        assert.equal(count("initialize", "degraded"), 0);
      });
    } finally {
      await stack.close();
    }
  },
});

Deno.test("rate limiting: Redis down → requests pass (fail open), with a log line and a metric", async () => {
  const stack = await startTestStack({
    env: { ...LIMITS, RATE_LIMIT_INITIALIZE_PER_MINUTE: "1", REDIS_URL: `redis://127.0.0.1:${freePort()}` },
  });
  try {
    const token = await stack.userToken();
    for (let i = 0; i < 3; i++) {
      const res = await initialize(stack, token);
      await expectJson(res, 201);
      assert.equal(res.headers.get("ratelimit-limit"), null, "no limit was applied: no RateLimit headers");
    }
    assert.equal(
      stack.runtime.metrics.get("rate_limit_decisions_total", { limiter: "initialize", decision: "degraded" }),
      3,
    );
    const warning = stack.logs.find((l) => l.msg === "rate limiter unavailable: request allowed without a limit");
    assert.ok(warning, "no log line says the limiter was down");
    assert.equal(warning.limiter, "initialize");
    assert.equal(typeof warning.request_id, "string");
  } finally {
    await stack.close();
  }
});

Deno.test("rate limiting: embedded mode limits in memory", async () => {
  const stack = await startTestStack({ env: LIMITS, redis: false });
  try {
    assert.equal(stack.config.redis.kind, "memory");
    const token = await stack.userToken();
    for (let i = 0; i < 3; i++) await expectJson(await initialize(stack, token), 201);
    await expectProblem(await initialize(stack, token), 429, "rate_limited");
  } finally {
    await stack.close();
  }
});
