import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { createPayment, creditsOf, ledgerViolations, payAtCheckout, paymentRow } from "../support/payment_flow.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts a Redis of the test's own on `port`; resolves once it accepts connections. */
async function startRedis(port: number): Promise<Deno.ChildProcess> {
  const redis = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // Redis logs this line once it listens: an event to wait for, not a delay.
  let log = "";
  for await (const chunk of redis.stdout.pipeThrough(new TextDecoderStream())) {
    log += chunk;
    if (log.includes("Ready to accept connections")) break;
  }
  if (!log.includes("Ready to accept connections")) throw new Error(`redis-server did not start: ${log}`);
  return redis;
}

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
      const port = freePort();
      const redis = await startRedis(port);
      let killed = false;
      const stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } }).catch(async (error) => {
        redis.kill("SIGKILL");
        await redis.status;
        throw error;
      });
      try {
        assert.equal((await expectJson(await stack.request("/ready"), 200)).status, "ok");
        await settlesOnce(stack); // with the lock first
        assert.equal(stack.runtime.metrics.get("lock_degraded_total"), 0);
        redis.kill("SIGKILL");
        await redis.status;
        killed = true;
        await settlesOnce(stack);
        assert.ok(stack.runtime.metrics.get("lock_degraded_total") > 0);
        assert.equal((await expectJson(await stack.request("/health"), 200)).status, "ok");
        assert.equal((await expectJson(await stack.request("/ready"), 200)).status, "degraded");
      } finally {
        await stack.close();
        if (!killed) {
          redis.kill("SIGKILL");
          await redis.status;
        }
      }
    },
  });
});
