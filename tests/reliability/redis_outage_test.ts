import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { createPayment, creditsOf, ledgerViolations, payAtCheckout, paymentRow } from "../support/payment_flow.ts";
import { freePort } from "../support/free_port.ts";
import { startOwnRedis } from "./support/own_redis.ts";

/** Pays a new payment and sends eight verify calls at once: every answer completed, exactly one credit. */
async function settlesOnce(stack: Awaited<ReturnType<typeof startTestStack>>): Promise<void> {
  const payment = await createPayment(stack);
  await payAtCheckout(payment, "success");
  await stack.runtime.sandbox!.idle();
  const results = await Promise.all(
    Array.from(
      { length: 8 },
      () => send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
    ),
  );
  for (const r of results) assert.equal((await expectJson(r, 200)).state, "completed");
  assert.equal(await creditsOf(stack, payment.reference), 1);
  assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
  assert.deepEqual(await ledgerViolations(stack), []);
}

Deno.test("Redis outage: payments settle exactly once without the lock", async (t) => {
  await t.step("proxy pointed at a dead port", async () => {
    const stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${freePort()}` } });
    try {
      assert.equal((await expectJson(await stack.request("/health"), 200)).status, "ok");
      const ready = await expectJson(await stack.request("/ready"), 200);
      assert.equal(ready.status, "degraded");
      assert.equal((ready.checks as Record<string, { status: string }>).redis?.status, "degraded");
      await settlesOnce(stack);
      assert.ok(stack.runtime.metrics.get("lock_degraded_total") > 0);
      assert.ok(stack.logs.some((l) => l.level === "warn" && String(l.msg).includes("without the lock")));
    } finally {
      await stack.close();
    }
  });

  const stopped = "a Redis server stopped while the service runs";
  await t.step({
    name: stopped,
    ignore: await ignoreWithout(["redis-server"], stopped, "the test starts and kills a Redis of its own"),
    fn: async () => {
      const redis = await startOwnRedis();
      const stack = await startTestStack({ env: { REDIS_URL: redis.url } }).catch(async (error) => {
        await redis.close();
        throw error;
      });
      try {
        assert.equal((await expectJson(await stack.request("/ready"), 200)).status, "ok");
        await settlesOnce(stack); // with the lock first
        assert.equal(stack.runtime.metrics.get("lock_degraded_total"), 0);
        await redis.stop();
        await settlesOnce(stack);
        assert.ok(stack.runtime.metrics.get("lock_degraded_total") > 0);
        assert.equal((await expectJson(await stack.request("/health"), 200)).status, "ok");
        assert.equal((await expectJson(await stack.request("/ready"), 200)).status, "degraded");
      } finally {
        await stack.close();
        await redis.close();
      }
    },
  });
});
