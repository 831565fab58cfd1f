import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import {
  balanceOf,
  chargeSuccessBody,
  createPayment,
  creditsOf,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
  payWithoutWebhook,
  postWebhook,
} from "../support/payment_flow.ts";

Deno.test("exactly-once credit through the real stack", async (t) => {
  const stack = await startTestStack({
    env: { RECONCILE_PENDING_AFTER_SECONDS: "0", RECONCILE_PROCESSING_AFTER_SECONDS: "0" },
  });
  const sandbox = stack.runtime.sandbox!;
  try {
    await t.step("a paid sandbox payment is credited by its webhook and ends completed", async () => {
      const payment = await createPayment(stack);
      await payAtCheckout(payment, "success");
      await sandbox.idle();
      const row = await paymentRow(stack, payment.reference);
      assert.equal(row.state, "completed");
      assert.ok(row.processing_started_at && row.processing_completed_at);
      assert.ok(
        (row.processing_started_at as Date).getTime() <= (row.processing_completed_at as Date).getTime(),
      );
      assert.equal(await creditsOf(stack, payment.reference), 1);
      assert.equal(await balanceOf(stack, payment.userId), payment.amount);
      const view = await expectJson(
        await send(stack, "GET", `/v1/payments/${payment.reference}`, { token: payment.token }),
        200,
      );
      const path = (view.state_transitions as Array<{ to: string; actor: string }>).map((s) => s.to);
      assert.deepEqual(path, ["pending", "processing", "completed"]);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("a declined sandbox payment ends failed after verify, nothing credited", async () => {
      const payment = await createPayment(stack);
      await payAtCheckout(payment, "failed");
      const view = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(view.state, "failed");
      assert.match(String(view.failure_reason), /failed/);
      assert.equal(await creditsOf(stack, payment.reference), 0);
      assert.equal(await balanceOf(stack, payment.userId), 0);
    });

    await t.step("verify of an unpaid payment leaves it unsettled; verify after paying credits once", async () => {
      const payment = await createPayment(stack);
      const early = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.ok(["pending", "processing"].includes(String(early.state)));
      await payWithoutWebhook(stack, payment); // only verify can settle it
      for (let i = 0; i < 3; i++) {
        const view = await expectJson(
          await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          200,
        );
        assert.equal(view.state, "completed");
      }
      assert.equal(await creditsOf(stack, payment.reference), 1);
      assert.equal(await balanceOf(stack, payment.userId), payment.amount);
    });

    await t.step(
      "a payment settled with another amount or currency is failed, not credited, and logged loudly",
      async () => {
        for (const tamper of [{ amount: 1_000 }, { currency: "USD" }]) {
          const payment = await createPayment(stack);
          await payAtCheckout(payment, "success", tamper);
          await sandbox.idle();
          const row = await paymentRow(stack, payment.reference);
          assert.equal(row.state, "failed");
          assert.match(String(row.failure_reason), /amount_mismatch/);
          assert.equal(await creditsOf(stack, payment.reference), 0);
          assert.equal(await balanceOf(stack, payment.userId), 0);
          assert.ok(stack.logs.some((l) => l.level === "error" && String(l.msg).includes("AMOUNT MISMATCH")));
        }
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    );

    await t.step("verify is owner-only", async () => {
      const payment = await createPayment(stack);
      await expectProblem(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: await stack.userToken() }),
        404,
        "payment_not_found",
      );
    });

    await t.step("50 webhooks + 20 verify calls + a reconcile pass, all at once → one credit", async () => {
      const payment = await createPayment(stack);
      await payWithoutWebhook(stack, payment);
      const service = await stack.serviceToken();
      const body = chargeSuccessBody(payment);
      const results = await Promise.all([
        ...Array.from({ length: 50 }, () => postWebhook(stack, body)),
        ...Array.from(
          { length: 20 },
          () => send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        ),
        send(stack, "POST", "/v1/jobs/reconcile", { token: service }),
      ]);
      const statuses = await Promise.all(results.map(async (r) => {
        await r.body?.cancel();
        return r.status;
      }));
      // Webhooks: always 200. Verify: 200, or 409 payment_locked while another holder works.
      assert.ok(statuses.slice(0, 50).every((s) => s === 200), JSON.stringify(statuses));
      assert.ok(statuses.slice(50, 70).every((s) => s === 200 || s === 409), JSON.stringify(statuses));
      assert.equal(statuses[70], 200);
      await sandbox.idle();
      // Whatever was deferred by the lock, one more verify settles it.
      const final = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(final.state, "completed");
      assert.equal(await creditsOf(stack, payment.reference), 1);
      assert.equal(await balanceOf(stack, payment.userId), payment.amount);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("a crash between mark_processing and credit_user: the next verify completes it once", async () => {
      const payment = await createPayment(stack);
      await payWithoutWebhook(stack, payment);
      // The crashed holder got this far and no further.
      const marked = await stack.runtime.store.markProcessing(payment.reference, { fence: null, actor: "verify" });
      assert.equal(marked?.payment.state, "processing");
      const view = await expectJson(
        await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
        200,
      );
      assert.equal(view.state, "completed");
      assert.equal(await creditsOf(stack, payment.reference), 1);
    });

    await t.step("a crash between mark_processing and credit_user: reconciliation completes it once", async () => {
      const payment = await createPayment(stack);
      await payWithoutWebhook(stack, payment);
      await stack.runtime.store.markProcessing(payment.reference, { fence: null, actor: "webhook" });
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.credited >= 1, JSON.stringify(summary));
      assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
      assert.equal(await creditsOf(stack, payment.reference), 1);
      const again = await stack.runtime.useCases.reconcile();
      assert.equal(again.credited, 0);
      assert.equal(await creditsOf(stack, payment.reference), 1);
    });
  } finally {
    await stack.close();
  }
});
