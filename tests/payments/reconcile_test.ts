import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { createPayment, creditsOf, payAtCheckout, paymentRow } from "../support/payment_flow.ts";

Deno.test("reconciliation", async (t) => {
  const stack = await startTestStack({
    env: { RECONCILE_PENDING_AFTER_SECONDS: "60", RECONCILE_PROCESSING_AFTER_SECONDS: "60" },
  });
  const sandbox = stack.runtime.sandbox!;
  // Time travel for the test: the guard rightly refuses changes to created_at,
  // so the backdating runs with triggers off (superuser, this transaction only).
  const age = (reference: string, interval: string) =>
    stack.database.db.transaction(async (tx) => {
      await tx.query("set local session_replication_role = replica");
      await tx.query(
        `update payment_logs set created_at = now() - $2::interval,
           processing_started_at = case when processing_started_at is null then null else now() - $2::interval end
         where reference = $1`,
        [reference, interval],
      );
    });
  try {
    await t.step("leaves fresh payments alone and settles stuck ones through the provider", async () => {
      const fresh = await createPayment(stack);
      const paid = await createPayment(stack);
      const declined = await createPayment(stack);
      const waiting = await createPayment(stack);
      sandbox.faults.failWebhooks({ times: 100, status: 500 });
      await payAtCheckout(paid, "success");
      await payAtCheckout(declined, "failed");
      await payAtCheckout(fresh, "success");
      // (Webhook deliveries keep failing until the end of the step, so the
      // sandbox's retries cannot settle anything behind reconciliation's back.)
      for (const p of [paid, declined, waiting]) await age(p.reference, "2 hours");
      const service = await stack.serviceToken();
      const summary = await expectJson(await send(stack, "POST", "/v1/jobs/reconcile", { token: service }), 200);
      assert.equal(summary.examined, 3, JSON.stringify(summary));
      assert.equal(summary.credited, 1, JSON.stringify(summary));
      assert.equal(summary.failed, 1);
      assert.equal(summary.unchanged, 1);
      assert.equal((await paymentRow(stack, paid.reference)).state, "completed");
      assert.equal((await paymentRow(stack, declined.reference)).state, "failed");
      assert.equal(await creditsOf(stack, paid.reference), 1);
      // Unpaid but younger than the abandonment age: still open.
      assert.ok(["pending", "processing"].includes(String((await paymentRow(stack, waiting.reference)).state)));
      // Not stuck long enough to be looked at.
      assert.equal((await paymentRow(stack, fresh.reference)).state, "pending");
      sandbox.faults.reset();
    });

    await t.step("payments unpaid past the abandonment age become failed", async () => {
      const unpaid = await createPayment(stack);
      await age(unpaid.reference, "25 hours");
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.failed >= 1, JSON.stringify(summary));
      const row = await paymentRow(stack, unpaid.reference);
      assert.equal(row.state, "failed");
      assert.match(String(row.failure_reason), /abandoned/);
    });

    await t.step("a provider outage is counted as an error and changes nothing", async () => {
      const payment = await createPayment(stack);
      await age(payment.reference, "2 hours");
      sandbox.faults.failNext({ endpoint: "verify", status: 503, times: 5 });
      try {
        const summary = await stack.runtime.useCases.reconcile();
        assert.ok(summary.errors >= 1, JSON.stringify(summary));
      } finally {
        sandbox.faults.reset();
      }
      assert.notEqual((await paymentRow(stack, payment.reference)).state, "completed");
    });

    await t.step("expired idempotency records are purged by the pass", async () => {
      const payment = await createPayment(stack);
      await stack.database.db.query(
        "update idempotency_keys set expires_at = now() - interval '1 minute' where user_id = $1",
        [payment.userId],
      );
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.purged_idempotency_keys >= 1);
      const rows = await stack.database.db.query("select 1 from idempotency_keys where user_id = $1", [payment.userId]);
      assert.equal(rows.length, 0);
    });

    await t.step("only the service role may run it", async () => {
      const res = await send(stack, "POST", "/v1/jobs/reconcile", { token: await stack.userToken() });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    });
  } finally {
    await stack.close();
  }
});
