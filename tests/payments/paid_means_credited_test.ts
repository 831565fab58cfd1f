/**
 * The "at least once" half of exactly-once, through the real stack
 * (supabase-js → gateway → Postgres, @upstash/redis → proxy → Redis, the
 * Paystack adapter → sandbox over HTTP): every path where a customer pays
 * and, before these rules, was never credited.
 */
import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { flushStackRedis, startTestStack, type TestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import {
  balanceOf,
  type CreatedPayment,
  createPayment,
  creditsOf,
  initializeThenCrash,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
  payWithoutWebhook,
} from "../support/payment_flow.ts";

type Transition = { from: string | null; to: string; actor: string; reason: string | null };

/** Moves a payment's clock back (the guard refuses it, so triggers are off for this one statement). */
function age(stack: TestStack, reference: string, interval: string): Promise<void> {
  return stack.database.db.transaction(async (tx) => {
    await tx.query("set local session_replication_role = replica");
    await tx.query(
      `update payment_logs set created_at = now() - $2::interval,
         processing_started_at = case when processing_started_at is null then null else now() - $2::interval end
       where reference = $1`,
      [reference, interval],
    );
  });
}

function trail(row: Record<string, unknown>): string[] {
  return (row.state_transitions as Transition[]).map((t) => `${t.from}→${t.to}:${t.reason}`);
}

async function assertLateSuccess(stack: TestStack, payment: CreatedPayment): Promise<void> {
  const row = await paymentRow(stack, payment.reference);
  assert.equal(row.state, "completed");
  assert.equal(row.failure_reason, null);
  assert.deepEqual(trail(row).slice(-2), ["failed→processing:late_success", "processing→completed:late_success"]);
  assert.equal(await creditsOf(stack, payment.reference), 1);
  assert.equal(await balanceOf(stack, payment.userId, payment.currency), payment.amount);
  assert.deepEqual(await ledgerViolations(stack), []);
}

Deno.test("paid means credited", async (t) => {
  const stack = await startTestStack({ env: { RECONCILE_PENDING_AFTER_SECONDS: "60" } });
  const sandbox = stack.runtime.sandbox!;
  try {
    await t.step("a customer who pays after reconciliation abandoned the checkout is credited (webhook)", async () => {
      const payment = await createPayment(stack, { amount: 120_000 });
      await age(stack, payment.reference, "25 hours");
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.failed >= 1, JSON.stringify(summary));
      assert.match(String((await paymentRow(stack, payment.reference)).failure_reason), /^abandoned/);

      await payAtCheckout(payment, "success");
      await sandbox.idle();
      await assertLateSuccess(stack, payment);
      assert.ok(stack.logs.some((l) => l.msg?.toString().startsWith("late success credited") && l.level === "warn"));
    });

    await t.step("a customer who pays after a declined attempt is credited (webhook)", async () => {
      const payment = await createPayment(stack, { amount: 130_000 });
      await payAtCheckout(payment, "failed");
      const token = payment.token;
      const failed = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token }),
        200,
      );
      assert.equal(failed.state, "failed");
      await payAtCheckout(payment, "success");
      await sandbox.idle();
      await assertLateSuccess(stack, payment);
    });

    await t.step("verify asks the provider about a failed payment instead of answering from the database", async () => {
      const payment = await createPayment(stack, { amount: 140_000 });
      await age(stack, payment.reference, "25 hours");
      await stack.runtime.useCases.reconcile();
      assert.equal((await paymentRow(stack, payment.reference)).state, "failed");
      await payWithoutWebhook(stack, payment);
      assert.equal((await paymentRow(stack, payment.reference)).state, "failed");
      const verifies = sandbox.stats.calls.verify;
      const verified = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(verified.state, "completed");
      assert.equal(sandbox.stats.calls.verify - verifies, 1);
      await assertLateSuccess(stack, payment);
      // Settled now: further verifies answer from the database.
      await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
      assert.equal(sandbox.stats.calls.verify - verifies, 1);
    });

    await t.step("a payment failed for an amount mismatch stays failed whatever the provider says later", async () => {
      const payment = await createPayment(stack, { amount: 150_000 });
      await payAtCheckout(payment, "success", { amount: 1_000 });
      await sandbox.idle();
      const row = await paymentRow(stack, payment.reference);
      assert.equal(row.state, "failed");
      assert.match(String(row.failure_reason), /^amount_mismatch/);
      const verifies = sandbox.stats.calls.verify;
      const again = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(again.state, "failed");
      assert.equal(sandbox.stats.calls.verify, verifies, "a settled mismatch is not asked about again");
      assert.equal(await creditsOf(stack, payment.reference), 0);
    });

    await t.step(
      "a retried POST for a payment failed meanwhile gets 409 payment_not_payable, never a checkout",
      async () => {
        const userId = crypto.randomUUID();
        const key = crypto.randomUUID();
        const body = { amount: 160_000, currency: "NGN" };
        await initializeThenCrash(stack, { userId, key, body });
        const [row] = await stack.database.db.query<{ reference: string }>(
          "select reference from payment_logs where user_id = $1",
          [userId],
        );
        await stack.database.db.query(
          "update payment_logs set state = 'failed', failure_reason = $2 where reference = $1",
          [
            row!.reference,
            "abandoned: test",
          ],
        );
        await stack.database.db.query(
          "update idempotency_keys set locked_at = now() - interval '1 hour' where user_id = $1",
          [userId],
        );
        const token = await stack.userToken(userId);
        const initializes = sandbox.stats.calls.initialize;
        const headers = { "Idempotency-Key": key };
        const problem = await expectProblem(
          await send(stack, "POST", "/v1/payments", { token, body, headers }),
          409,
          "payment_not_payable",
        );
        assert.equal(problem.authorization_url, undefined);
        assert.equal(sandbox.stats.calls.initialize, initializes);
        const replay = await send(stack, "POST", "/v1/payments", { token, body, headers });
        assert.equal(replay.status, 409);
        assert.equal(replay.headers.get("idempotent-replayed"), "true");
        await replay.body?.cancel();
      },
    );

    await t.step(
      "a 401 from the provider on initialize is our configuration error: 503, nothing stored or failed",
      async () => {
        const userId = crypto.randomUUID();
        const token = await stack.userToken(userId);
        const headers = { "Idempotency-Key": crypto.randomUUID() };
        const body = { amount: 170_000, currency: "NGN" };
        sandbox.faults.failNext({ endpoint: "initialize", status: 401, message: "Invalid key" });
        await expectProblem(
          await send(stack, "POST", "/v1/payments", { token, body, headers }),
          503,
          "provider_unavailable",
        );
        assert.ok(stack.logs.some((l) => l.level === "error" && String(l.msg).includes("credentials")));
        const [row] = await stack.database.db.query<{ state: string; response_status: number | null; locked: boolean }>(
          `select p.state::text as state, k.response_status, k.locked_at is not null as locked
         from idempotency_keys k join payment_logs p on p.id = k.payment_log_id where k.user_id = $1`,
          [userId],
        );
        assert.deepEqual(row, { state: "pending", response_status: null, locked: false });
        // Once the key is fixed, the same request goes through.
        const created = await expectJson(await send(stack, "POST", "/v1/payments", { token, body, headers }), 201);
        assert.match(String(created.authorization_url), /\/checkout\//);
      },
    );

    await t.step("non-final provider statuses never fail a payment, even past the abandonment age", async () => {
      const payment = await createPayment(stack, { amount: 175_000 });
      for (const status of ["ongoing", "pending", "processing", "queued"] as const) {
        await age(stack, payment.reference, "25 hours");
        sandbox.faults.verifyStatusNext({ status, reference: payment.reference });
        const verifies = sandbox.stats.calls.verify;
        await stack.runtime.useCases.reconcile();
        assert.ok(sandbox.stats.calls.verify > verifies, `${status}: reconciliation asked the provider`);
        const row = await paymentRow(stack, payment.reference);
        assert.ok(["pending", "processing"].includes(String(row.state)), `${status}: ${row.state}`);
      }
      // Then the money arrives after all.
      await payAtCheckout(payment, "success");
      await sandbox.idle();
      assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
      assert.equal(await creditsOf(stack, payment.reference), 1);
    });

    await t.step(
      "fees passed to the customer: the amount asked is compared and credited, not the amount charged",
      async () => {
        const payment = await createPayment(stack, { amount: 185_000 });
        sandbox.faults.passFeesNext({ reference: payment.reference });
        await payAtCheckout(payment, "success");
        await sandbox.idle();
        const row = await paymentRow(stack, payment.reference);
        assert.equal(row.state, "completed");
        assert.equal(await balanceOf(stack, payment.userId), payment.amount);
        const [payload] = await stack.database.db.query<{ amount: number; requested_amount: number }>(
          `select (provider_payload ->> 'amount')::int8 as amount, (provider_payload ->> 'requested_amount')::int8
           as requested_amount from payment_logs where reference = $1`,
          [payment.reference],
        );
        assert.equal(Number(payload!.requested_amount), payment.amount);
        assert.ok(Number(payload!.amount) > payment.amount, "the charge includes the fees");
      },
    );

    await t.step("check_ledger_invariants reports a stored charge.success whose payment was not credited", async () => {
      const payment = await createPayment(stack, { amount: 190_000 });
      await stack.database.db.query(
        `insert into webhook_events (provider, event_key, event_type, reference, payload)
         values ('paystack', $1, 'charge.success', $2, '{}')`,
        [`charge.success:forged-${payment.reference}`, payment.reference],
      );
      const violations = await ledgerViolations(stack) as Array<{ invariant: string; subject: string }>;
      assert.deepEqual(violations.map((v) => [v.invariant, v.subject]), [["paid_not_credited", payment.reference]]);
      // Settling it (here: the customer's verify) clears the alarm.
      await payWithoutWebhook(stack, payment);
      await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.deepEqual(await ledgerViolations(stack), []);
    });
  } finally {
    await stack.close();
  }
});

/** The flush steps need a Redis to flush: the in-memory lock's counter is out of a test's reach. */
const withoutRedis = await ignoreWithout(
  ["redis"],
  "fences keep increasing whatever happens to Redis: the Redis-flush steps",
  "they flush a real Redis",
);

Deno.test("fences keep increasing whatever happens to Redis", async (t) => {
  const stack = await startTestStack();
  const sandbox = stack.runtime.sandbox!;
  const flush = () => flushStackRedis(stack);
  try {
    await t.step({
      name: "Redis flushed between a verify and the payment: the webhook still credits",
      ignore: withoutRedis,
      fn: async () => {
        // Raise the counter well past what a fresh one hands out, and let a payment see it.
        await stack.runtime.locks.advanceFence(500);
        const payment = await createPayment(stack, { amount: 210_000 });
        const verified = await expectJson(
          await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          200,
        );
        assert.equal(verified.state, "processing");
        const seen = Number((await paymentRow(stack, payment.reference)).last_fence);
        assert.ok(seen > 500, `fence ${seen}`);

        await flush();
        await payAtCheckout(payment, "success");
        await sandbox.idle();
        const row = await paymentRow(stack, payment.reference);
        assert.equal(row.state, "completed");
        assert.ok(Number(row.last_fence) > seen);
        assert.equal(await creditsOf(stack, payment.reference), 1);
        const [event] = await stack.database.db.query<{ outcome: string }>(
          "select outcome from webhook_events where reference = $1",
          [payment.reference],
        );
        assert.equal(event?.outcome, "credited");
        assert.ok(stack.logs.some((l) => String(l.msg).startsWith("fence refused as stale")));
      },
    });

    await t.step({
      name: "Redis flushed before a verify: verify settles instead of answering 409",
      ignore: withoutRedis,
      fn: async () => {
        await stack.runtime.locks.advanceFence(5_000);
        const payment = await createPayment(stack, { amount: 220_000 });
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
        await flush();
        await payWithoutWebhook(stack, payment);
        const verified = await expectJson(
          await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          200,
        );
        assert.equal(verified.state, "completed");
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    });

    await t.step(
      "an embedded-mode restart (in-memory counter back at 0) settles payments the last run touched",
      async () => {
        const payment = await createPayment(stack, { amount: 230_000 });
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token });
        assert.ok(Number((await paymentRow(stack, payment.reference)).last_fence) > 0);
        await payWithoutWebhook(stack, payment);
        const restarted = await startTestStack({ shareWith: stack, redis: false });
        try {
          const verified = await expectJson(
            await send(restarted, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
            200,
          );
          assert.equal(verified.state, "completed");
        } finally {
          await restarted.close();
        }
        assert.equal(await creditsOf(stack, payment.reference), 1);
      },
    );
  } finally {
    await stack.close();
  }
});
