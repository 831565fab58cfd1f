import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { createPayment, creditsOf, ledgerViolations, payAtCheckout, paymentRow } from "../support/payment_flow.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function settlesOnceWhileDegraded(stack: Awaited<ReturnType<typeof startTestStack>>): Promise<void> {
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
      await settlesOnceWhileDegraded(stack);
      assert.ok(stack.runtime.metrics.get("lock_degraded_total") > 0);
      assert.ok(stack.logs.some((l) => l.level === "warn" && String(l.msg).includes("without the lock")));
    } finally {
      await stack.close();
    }
  });

  await t.step("a Redis server stopped while the service runs", async () => {
    const port = freePort();
    const redis = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let stopped = false;
    const stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      await waitFor(async () => (await (await stack.request("/ready")).json()).status === "ok", "redis up");
      await settlesOnceWhileDegraded(stack); // healthy first
      assert.equal(stack.runtime.metrics.get("lock_degraded_total"), 0);
      redis.kill("SIGKILL");
      await redis.status;
      stopped = true;
      await settlesOnceWhileDegraded(stack);
      assert.ok(stack.runtime.metrics.get("lock_degraded_total") > 0);
      assert.equal((await expectJson(await stack.request("/health"), 200)).status, "ok");
      assert.equal((await expectJson(await stack.request("/ready"), 200)).status, "degraded");
    } finally {
      await stack.close();
      if (!stopped) {
        redis.kill("SIGKILL");
        await redis.status;
      }
    }
  });
});
