/**
 * The provider-window pass through the real stack: supabase-js → RPC gateway
 * → Postgres, the Paystack adapter → the sandbox over HTTP (its `GET
 * /transaction` listing), Redis behind the Upstash proxy. Every success the
 * provider recorded is credited exactly once, whatever our own rows say.
 */
import assert from "node:assert/strict";
import { systemClock } from "../../src/observability/clock.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { createConfirmWithProvider } from "../../src/payments/confirm_with_provider.ts";
import {
  createReconcileProvider,
  DEFAULT_LATE_SUCCESS_MS,
  DEFAULT_OVERLAP_MS,
} from "../../src/payments/reconcile_provider.ts";
import { createReconcileProviderWindow } from "../../src/payments/reconcile_provider_window.ts";
import { createRunUnderPaymentLock } from "../../src/payments/run_under_payment_lock.ts";
import { createSettlePayment } from "../../src/payments/settle_payment.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import {
  balanceOf,
  type CreatedPayment,
  createPayment,
  creditsOf,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
  payWithoutWebhook,
} from "../support/payment_flow.ts";

/** The stuck-payment pass looks at pending payments only after a week: it skips everything here. */
const ENV = { RECONCILE_PENDING_AFTER_SECONDS: String(7 * 86_400), RECONCILE_PROCESSING_AFTER_SECONDS: "60" };

/** Moves a payment's timestamps back by `interval`, with the state guard off (superuser, this transaction only). */
function backdate(stack: TestStack, reference: string, interval: string): Promise<void> {
  return stack.database.db.transaction(async (tx) => {
    await tx.query("set local session_replication_role = replica");
    await tx.query(
      `update payment_logs
          set created_at = created_at - $2::interval, updated_at = updated_at - $2::interval,
              processing_started_at = processing_started_at - $2::interval,
              processing_completed_at = processing_completed_at - $2::interval
        where reference = $1`,
      [reference, interval],
    );
  });
}

/** The pass over HTTP, as the cron calls it. */
async function providerPass(stack: TestStack, query = "scope=provider"): Promise<Record<string, unknown>> {
  const token = await stack.serviceToken();
  return await expectJson(await send(stack, "POST", `/v1/jobs/reconcile?${query}`, { token }), 200);
}

/** Pays at the checkout (tampered if asked) while every webhook delivery fails; returns once the sandbox gave up. */
async function payWithoutAnyWebhook(
  stack: TestStack,
  payment: CreatedPayment,
  tamper: { amount?: number } = {},
): Promise<void> {
  const sandbox = stack.runtime.sandbox!;
  await sandbox.idle();
  sandbox.faults.failWebhooks({ times: 100, status: 500 });
  await payAtCheckout(payment, "success", tamper);
  await sandbox.idle();
  sandbox.faults.reset();
}

async function cursorOf(stack: TestStack): Promise<string | null> {
  const [row] = await stack.database.db.query<{ at: string }>(
    "select public.get_provider_reconciliation_cursor('paystack') ->> 'checked_until' as at",
  );
  return row?.at ?? null;
}

Deno.test("provider reconciliation", async (t) => {
  const stack = await startTestStack({ env: ENV });
  const sandbox = stack.runtime.sandbox!;
  try {
    await t.step("credits a paid payment our own scans miss, once; the second pass credits nothing", async () => {
      // Paid at the provider; every webhook lost, nobody verified.
      const pendingLongAgo = await createPayment(stack, { amount: 120_000 });
      await payWithoutWebhook(stack, pendingLongAgo);
      await backdate(stack, pendingLongAgo.reference, "3 days");
      // Given up on (abandoned) long ago, then paid at the same checkout: a late success.
      const failedLongAgo = await createPayment(stack, { amount: 80_000 });
      await stack.database.db.query("select public.fail_payment($1, 'abandoned: the customer never paid')", [
        failedLongAgo.reference,
      ]);
      await payWithoutWebhook(stack, failedLongAgo);
      await backdate(stack, failedLongAgo.reference, "3 days");

      // Our own pass does not see them: one is pending but not "stuck" by its thresholds, the other failed.
      const stuck = await stack.runtime.useCases.reconcile();
      assert.equal(stuck.examined, 0, JSON.stringify(stuck));
      assert.equal(await creditsOf(stack, pendingLongAgo.reference), 0);
      assert.equal(await creditsOf(stack, failedLongAgo.reference), 0);

      const first = await providerPass(stack);
      assert.equal(first.seen, 2, JSON.stringify(first));
      assert.equal(first.credited_now, 2);
      assert.equal(first.already_credited, 0);
      assert.equal(first.mismatches, 0);
      assert.equal(first.unknown_references, 0);
      assert.equal(first.errors, 0);
      assert.equal(first.complete, true);
      assert.deepEqual(
        (first.findings as Array<Record<string, unknown>>).map((f) => [f.reference, f.finding]).sort(),
        [[failedLongAgo.reference, "credited_now"], [pendingLongAgo.reference, "credited_now"]].sort(),
      );
      for (const p of [pendingLongAgo, failedLongAgo]) {
        assert.equal((await paymentRow(stack, p.reference)).state, "completed");
        assert.equal(await creditsOf(stack, p.reference), 1);
        assert.equal(await balanceOf(stack, p.userId), p.amount);
      }
      const late = await paymentRow(stack, failedLongAgo.reference);
      const trail = late.state_transitions as Array<{ to: string; reason: string | null; actor: string }>;
      assert.deepEqual(trail.slice(-2).map((s) => [s.to, s.reason, s.actor]), [
        ["processing", "late_success", "reconcile_provider"],
        ["completed", "late_success", "reconcile_provider"],
      ]);
      // A warn line per success credited now, naming it.
      const warned = stack.logs.filter((l) => l.level === "warn" && l.finding === "credited_now");
      assert.deepEqual(
        warned.map((l) => l.reference).sort(),
        [pendingLongAgo.reference, failedLongAgo.reference].sort(),
      );
      assert.equal(
        stack.runtime.metrics.get("provider_reconciliation_transactions_total", {
          provider: "paystack",
          finding: "credited_now",
        }),
        2,
      );

      // The second pass starts from the cursor minus the overlap, which still covers both: nothing to credit.
      const cursor = await cursorOf(stack);
      assert.equal(cursor !== null && Date.parse(cursor), Date.parse(String(first.to)));
      const second = await providerPass(stack);
      // It re-lists the last 48 h whatever the cursor says (late successes on older checkouts, next step).
      assert.ok(Date.parse(String(second.from)) <= Date.parse(cursor!) - DEFAULT_OVERLAP_MS, String(second.from));
      assert.equal(Date.parse(String(second.to)) - Date.parse(String(second.from)), DEFAULT_LATE_SUCCESS_MS);
      assert.deepEqual((second.cursor as Record<string, unknown>).before, cursor);
      assert.equal(second.seen, 2, JSON.stringify(second));
      assert.equal(second.already_credited, 2);
      assert.equal(second.credited_now, 0);
      assert.deepEqual(second.findings, []);
      for (const p of [pendingLongAgo, failedLongAgo]) {
        assert.equal(await creditsOf(stack, p.reference), 1);
        assert.equal(await balanceOf(stack, p.userId), p.amount);
      }
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step(
      "a checkout paid hours after we failed it, every webhook lost, nobody verifying: the next pass credits it",
      async () => {
        const declined = await createPayment(stack, { amount: 65_000 });
        await stack.database.db.query("select public.fail_payment($1, 'provider_status: failed (Declined)')", [
          declined.reference,
        ]);
        // The checkout was created 5 hours ago (the provider lists transactions by their creation date)…
        await backdate(stack, declined.reference, "5 hours");
        await stack.database.db.query(
          "update sandbox_paystack.transactions set created_at = created_at - interval '5 hours' where reference = $1",
          [declined.reference],
        );
        // …an hourly pass has run since, so the cursor is well past it…
        const before = await providerPass(stack);
        assert.equal(before.complete, true, JSON.stringify(before));
        assert.ok(Date.parse(String(await cursorOf(stack))) - DEFAULT_OVERLAP_MS > Date.now() - 5 * 3_600_000);
        // …and now the customer pays it, and every webhook is lost.
        await payWithoutAnyWebhook(stack, declined);
        assert.equal(await creditsOf(stack, declined.reference), 0);

        const pass = await providerPass(stack);
        assert.equal(pass.credited_now, 1, JSON.stringify(pass));
        const row = await paymentRow(stack, declined.reference);
        assert.equal(row.state, "completed");
        const trail = row.state_transitions as Array<{ to: string; reason: string | null }>;
        assert.deepEqual(trail.slice(-2).map((s) => [s.to, s.reason]), [
          ["processing", "late_success"],
          ["completed", "late_success"],
        ]);
        assert.equal(await creditsOf(stack, declined.reference), 1);
        assert.equal(await balanceOf(stack, declined.userId), declined.amount);
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    );

    await t.step("reports an unknown reference and a mismatch, and credits neither", async () => {
      // A transaction someone created with our key, under a reference we never issued, and paid.
      const foreign = `ext-${crypto.randomUUID().slice(0, 8)}`;
      const init = await fetch(`${stack.config.provider.baseUrl}/transaction/initialize`, {
        method: "POST",
        headers: { Authorization: `Bearer ${stack.config.provider.secretKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ email: "stranger@example.ng", amount: 999_900, reference: foreign }),
      });
      const initialized = await expectJson(init, 200);
      const authorizationUrl = String((initialized.data as Record<string, unknown>).authorization_url);
      await payWithoutAnyWebhook(stack, { authorizationUrl } as CreatedPayment);
      // A tampered checkout: the provider collected another amount than we asked.
      const tampered = await createPayment(stack, { amount: 50_000 });
      await payWithoutAnyWebhook(stack, tampered, { amount: 100 });

      const pass = await providerPass(stack, "scope=provider&since=1h");
      assert.equal(pass.unknown_references, 1, JSON.stringify(pass));
      assert.equal(pass.mismatches, 1);
      assert.equal(pass.credited_now, 0);
      assert.deepEqual(
        (pass.findings as Array<Record<string, unknown>>).map((f) => [f.provider_reference, f.reference, f.finding])
          .sort(),
        [[foreign, null, "unknown_reference"], [tampered.reference, tampered.reference, "mismatch"]].sort(),
      );
      const row = await paymentRow(stack, tampered.reference);
      assert.equal(row.state, "failed");
      assert.match(String(row.failure_reason), /^amount_mismatch:/);
      assert.equal(await creditsOf(stack, tampered.reference), 0);
      assert.equal(await balanceOf(stack, tampered.userId), 0);
      for (const finding of ["unknown_reference", "mismatch"]) {
        assert.ok(stack.logs.some((l) => l.level === "warn" && l.finding === finding), finding);
      }

      // Seen again, still reported, still not credited.
      const again = await providerPass(stack, "scope=provider&since=1h");
      assert.equal(again.unknown_references, 1);
      assert.equal(again.mismatches, 1);
      assert.equal(again.credited_now, 0);
      assert.equal(await creditsOf(stack, tampered.reference), 0);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("pages through a listing longer than a page", async () => {
      const paid: CreatedPayment[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await createPayment(stack, { amount: 10_000 + i });
        await payWithoutWebhook(stack, p);
        paid.push(p);
      }
      // The same wiring as the app's, with two transactions a page.
      const logger = silentLogger;
      const provider = createPaystackProvider({
        secretKey: stack.config.provider.secretKey,
        baseUrl: stack.config.provider.baseUrl,
      });
      const store = stack.runtime.store;
      const metrics = createMetrics();
      const confirm = createConfirmWithProvider({ store, provider, logger, metrics, clock: systemClock });
      const runUnderLock = createRunUnderPaymentLock({
        locks: stack.runtime.locks,
        store,
        logger,
        metrics,
        lock: stack.config.lock,
      });
      const settle = createSettlePayment({ store, runUnderLock, confirm });
      const reconcileWindow = createReconcileProviderWindow({ provider, store, settle, logger, metrics, perPage: 2 });
      const pass = createReconcileProvider({ provider, store, reconcileWindow, clock: systemClock, logger });

      const listedBefore = sandbox.stats.calls.list;
      const summary = await pass({ sinceMs: 3_600_000 });
      // 2 earlier successes + the foreign one + the tampered one + 5 new = 9 successes in the last hour.
      assert.equal(summary.seen, 9, JSON.stringify(summary));
      assert.equal(summary.pages, 5);
      assert.equal(sandbox.stats.calls.list - listedBefore, 5);
      assert.equal(summary.credited_now, 5);
      assert.equal(summary.already_credited, 2);
      assert.equal(summary.unknown_references, 1);
      assert.equal(summary.mismatches, 1);
      for (const p of paid) {
        assert.equal(await creditsOf(stack, p.reference), 1);
        assert.equal(await balanceOf(stack, p.userId), p.amount);
      }
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("only the service role may run it, and a bad scope or since is 422", async () => {
      const user = await send(stack, "POST", "/v1/jobs/reconcile?scope=provider", { token: await stack.userToken() });
      assert.equal(user.status, 403);
      await user.body?.cancel();
      const token = await stack.serviceToken();
      for (const query of ["scope=ledger", "scope=provider&since=forever", "since=1h"]) {
        await expectProblem(
          await send(stack, "POST", `/v1/jobs/reconcile?${query}`, { token }),
          422,
          "validation_failed",
        );
      }
    });
  } finally {
    await stack.close();
  }
});
