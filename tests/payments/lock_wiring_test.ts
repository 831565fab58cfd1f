import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { expireStackLock, startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import {
  balanceOf,
  chargeSuccessBody,
  createPayment,
  creditsOf,
  ledgerViolations,
  paymentRow,
  payWithoutWebhook,
  postWebhook,
} from "../support/payment_flow.ts";
import { AppError } from "../../src/errors.ts";
import { paymentLockKey } from "../../src/payments/run_under_payment_lock.ts";

const SUITE = "the payment lock at the edge";
const ignore = await ignoreWithout(
  ["redis"],
  SUITE,
  "two instances must share one lock, and each in-memory lock is private to its instance",
);

Deno.test(SUITE, { ignore }, async (t) => {
  const trace: string[] = [];
  let tracing = false;
  const a = await startTestStack({ trace: (e) => tracing && trace.push(e) });
  const b = await startTestStack({ shareWith: a });
  const sandbox = a.runtime.sandbox!;
  try {
    await t.step("two instances racing verify calls → one provider verify, one credit", async () => {
      for (let round = 0; round < 5; round++) {
        const payment = await createPayment(a);
        await payWithoutWebhook(a, payment);
        const verifyBefore = sandbox.stats.calls.verify;
        const results = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => send(i % 2 ? b : a, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          ),
        );
        for (const r of results) {
          await r.body?.cancel();
          assert.ok(r.status === 200 || r.status === 409, `status ${r.status}`);
        }
        assert.equal(sandbox.stats.calls.verify - verifyBefore, 1);
        assert.equal(await creditsOf(a, payment.reference), 1);
        assert.equal((await paymentRow(a, payment.reference)).state, "completed");
      }
      assert.deepEqual(await ledgerViolations(a), []);
    });

    await t.step("contended verify → 409 payment_locked with Retry-After", async () => {
      const payment = await createPayment(a);
      const holder = await a.runtime.locks.acquire(paymentLockKey(payment.reference), { leaseMs: 5_000, waitMs: 0 });
      assert.ok(holder && !holder.degraded);
      try {
        const res = await send(b, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
        assert.equal(res.status, 409);
        assert.equal(res.headers.get("content-type"), "application/problem+json");
        assert.equal((await res.json()).code, "payment_locked");
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
      } finally {
        await holder.release();
      }
    });

    await t.step(
      "a contended webhook is recorded unprocessed and answered 200 deferred; a later verify settles it",
      async () => {
        const payment = await createPayment(a);
        await payWithoutWebhook(a, payment);
        const holder = await a.runtime.locks.acquire(paymentLockKey(payment.reference), { leaseMs: 5_000, waitMs: 0 });
        try {
          const res = await postWebhook(b, chargeSuccessBody(payment));
          assert.deepEqual(await expectJson(res, 200), { received: true, outcome: "deferred" });
        } finally {
          await holder!.release();
        }
        const [event] = await a.database.db.query<{ processed: boolean }>(
          "select processed_at is not null as processed from webhook_events where reference = $1",
          [payment.reference],
        );
        assert.equal(event?.processed, false);
        assert.equal(await creditsOf(a, payment.reference), 0);
        const verified = await expectJson(
          await send(a, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          200,
        );
        assert.equal(verified.state, "completed");
        assert.equal(await creditsOf(a, payment.reference), 1);
      },
    );

    await t.step("a holder paused past its lease is fenced out by the database", async () => {
      const payment = await createPayment(a);
      await payWithoutWebhook(a, payment);
      const key = paymentLockKey(payment.reference);
      const paused = await a.runtime.locks.acquire(key, { leaseMs: 10_000, waitMs: 0 });
      assert.ok(paused?.fence);
      await a.runtime.store.markProcessing(payment.reference, { fence: paused.fence, actor: "verify" });
      // The GC pause: the holder sleeps past its lease, which Redis ends as PX would.
      await expireStackLock(a, key);
      // Another instance takes the lock (a newer fence) and finishes the work.
      const view = await expectJson(
        await send(b, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(view.state, "completed");
      // The paused holder wakes up and tries to write with its old fence.
      await assert.rejects(
        a.runtime.store.creditUser({
          reference: payment.reference,
          amount: payment.amount,
          currency: payment.currency,
          providerPayload: {},
          fence: paused.fence,
          actor: "verify",
        }),
        (e: unknown) => e instanceof AppError && e.code === "stale_fence",
      );
      assert.equal(await paused.release(), false);
      assert.equal(await creditsOf(a, payment.reference), 1);
      assert.equal(await balanceOf(a, payment.userId), payment.amount);
      const row = await paymentRow(a, payment.reference);
      assert.ok(Number(row.last_fence) > paused.fence);
    });

    await t.step("webhook credit path: one Redis round trip before the database, two RPCs", async () => {
      const payment = await createPayment(a);
      await payWithoutWebhook(a, payment);
      trace.length = 0;
      tracing = true;
      const res = await postWebhook(a, chargeSuccessBody(payment));
      tracing = false;
      assert.equal((await expectJson(res, 200)).outcome, "credited");
      const firstRpc = trace.findIndex((e) => e.startsWith("rpc:"));
      assert.deepEqual(trace.slice(0, firstRpc), ["redis"], trace.join(" "));
      assert.deepEqual(trace.filter((e) => e.startsWith("rpc:")), ["rpc:record_webhook_event", "rpc:credit_user"]);
    });
  } finally {
    await b.close();
    await a.close();
  }
});
