/**
 * Refunds through the real stack: the API and the Supabase Database Webhook
 * (supabase-js → gateway → Postgres), the Paystack adapter → sandbox over
 * HTTP, and the sandbox's signed `refund.*` webhooks back to the service. The
 * sandbox's refund steps wait on a manual clock, so each test decides when a
 * refund moves at the provider.
 */
import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { ManualClock } from "../support/manual_clock.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import {
  balanceOf,
  type CreatedPayment,
  createPayment,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
} from "../support/payment_flow.ts";
import { DEFAULT_REFUND_SCHEDULE } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { DB_WEBHOOK_SECRET_HEADER } from "../../src/http/db_hook_routes.ts";

type RefundView = {
  id: string;
  amount: number;
  state: string;
  failure_reason: string | null;
  refund_request_id: string | null;
};

Deno.test("refunds", async (t) => {
  const clock = new ManualClock();
  const stack = await startTestStack({ sandboxTimers: clock });
  const sandbox = stack.runtime.sandbox!;
  const service = await stack.serviceToken();
  /** Lets the provider move its refunds by `ms`, then waits for its webhooks to be handled. */
  const providerTime = async (ms: number) => {
    await clock.advance(ms);
    await sandbox.idle();
  };
  /** Every refund at the provider finishes (pending → processing → its outcome). */
  const providerFinishes = async () => {
    await providerTime(DEFAULT_REFUND_SCHEDULE.pendingMs);
    await providerTime(DEFAULT_REFUND_SCHEDULE.processingMs);
  };
  const paid = async (amount = 100_000): Promise<CreatedPayment> => {
    const payment = await createPayment(stack, { amount });
    await payAtCheckout(payment, "success");
    await sandbox.idle();
    assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
    return payment;
  };
  const refund = (payment: CreatedPayment, body: Record<string, unknown>, key = crypto.randomUUID()) =>
    send(stack, "POST", `/v1/payments/${payment.reference}/refunds`, {
      token: service,
      body,
      headers: { "Idempotency-Key": key },
    });
  const refundRows = async (payment: CreatedPayment) =>
    await stack.database.db.query<{ state: string; amount: string }>(
      `select r.state::text as state, r.amount from refunds r join payment_logs p on p.id = r.payment_log_id
        where p.reference = $1 order by r.created_at`,
      [payment.reference],
    );
  const held = async (payment: CreatedPayment) => {
    const [row] = await stack.database.db.query<{ held: string }>(
      "select held from wallets where user_id = $1 and currency = 'NGN'",
      [payment.userId],
    );
    return Number(row?.held ?? 0);
  };
  /** Inserts a staff refund request and returns its row as a Database Webhook carries it (`to_jsonb(NEW)`). */
  const insertRefundRequest = async (
    payment: CreatedPayment,
    amount: number | null,
    reason: string,
    requestedBy: string | null = null,
  ) => {
    const [row] = await stack.database.db.query<{ record: Record<string, unknown> & { id: string } }>(
      `insert into refund_requests as r (payment_reference, amount, reason, requested_by)
       values ($1, $2, $3, $4) returning to_jsonb(r) as record`,
      [payment.reference, amount, reason, requestedBy],
    );
    return row!.record;
  };
  /** Ages the refunds' submission claims past `claimSeconds` (60 s), as if a minute had passed. */
  const claimExpires = async (payment: CreatedPayment) => {
    await stack.database.db.query(
      `update refunds set submitting_at = submitting_at - interval '2 minutes'
        where submitting_at is not null and payment_log_id = (select id from payment_logs where reference = $1)`,
      [payment.reference],
    );
  };
  const providerRefunds = async (payment: CreatedPayment) => {
    const [row] = await stack.database.db.query<{ n: string }>(
      `select count(*)::int8 as n from sandbox_paystack.refunds r
         join sandbox_paystack.transactions tx on tx.id = r.transaction_id where tx.reference = $1`,
      [payment.reference],
    );
    return Number(row!.n);
  };

  try {
    await t.step("a full refund: reserved, sent, paid out by the provider, then debited once", async () => {
      const payment = await paid();
      const res = await refund(payment, { reason: "customer asked" });
      const accepted = await expectJson<RefundView>(res, 201);
      assert.equal(accepted.amount, 100_000);
      assert.equal(accepted.state, "processing");
      assert.equal(await held(payment), 100_000);
      assert.equal(await balanceOf(stack, payment.userId), 100_000, "not debited before the provider pays out");

      await providerFinishes();
      const row = await paymentRow(stack, payment.reference);
      assert.equal(row.state, "refunded");
      assert.deepEqual((await refundRows(payment)).map((r) => r.state), ["processed"]);
      assert.equal(await balanceOf(stack, payment.userId), 0);
      assert.equal(await held(payment), 0);
      const owner = await expectJson<{ refunded_amount: number; state: string }>(
        await send(stack, "GET", `/v1/payments/${payment.reference}`, { token: payment.token }),
        200,
      );
      assert.deepEqual([owner.state, owner.refunded_amount], ["refunded", 100_000]);
      const wallet = await expectJson<{ entries: Array<{ type: string; amount: number }> }>(
        await send(stack, "GET", "/v1/wallet", { token: payment.token }),
        200,
      );
      assert.deepEqual(wallet.entries.map((e) => [e.type, e.amount]), [["refund", 100_000], ["credit", 100_000]]);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("two partial refunds summing to the amount; an over-refund is refused, nothing written", async () => {
      const payment = await paid();
      await expectJson(await refund(payment, { amount: 40_000, reason: "part 1" }), 201);
      await expectProblem(await refund(payment, { amount: 60_001, reason: "too much" }), 422, "refund_exceeds_payment");
      assert.equal((await refundRows(payment)).length, 1);
      await providerFinishes();
      let row = await paymentRow(stack, payment.reference);
      assert.equal(row.state, "completed");
      const trail = row.state_transitions as Array<{ from: string; to: string }>;
      assert.deepEqual(
        [trail.at(-1)!.from, trail.at(-1)!.to],
        ["completed", "completed"],
        "the partial refund is in the trail",
      );
      await expectJson(await refund(payment, { amount: 60_000, reason: "part 2" }), 201);
      await providerFinishes();
      row = await paymentRow(stack, payment.reference);
      assert.equal(row.state, "refunded");
      await expectProblem(await refund(payment, { reason: "nothing left" }), 422, "refund_exceeds_payment");
      assert.equal(await balanceOf(stack, payment.userId), 0);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("credit already spent cannot be refunded: 409 insufficient_balance, nothing written", async () => {
      const payment = await paid();
      await expectJson(
        await send(stack, "POST", "/v1/wallet/debits", {
          token: service,
          body: { user_id: payment.userId, amount: 50_000, currency: "NGN", reason: "sms" },
          headers: { "Idempotency-Key": crypto.randomUUID() },
        }),
        201,
      );
      await expectProblem(await refund(payment, { reason: "all of it" }), 409, "insufficient_balance");
      assert.equal((await refundRows(payment)).length, 0);
      assert.equal(await held(payment), 0);
      assert.equal(await providerRefunds(payment), 0);
      // What is left unspent can be refunded.
      await expectJson(await refund(payment, { amount: 50_000, reason: "the rest" }), 201);
      await providerFinishes();
      assert.equal(await balanceOf(stack, payment.userId), 0);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("the same key replays the refund; with another body it is 422; only the service role", async () => {
      const payment = await paid();
      const key = crypto.randomUUID();
      const first = await expectJson<RefundView>(await refund(payment, { amount: 10_000, reason: "r" }, key), 201);
      const again = await refund(payment, { amount: 10_000, reason: "r" }, key);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal((await expectJson<RefundView>(again, 201)).id, first.id);
      await expectProblem(await refund(payment, { amount: 20_000, reason: "r" }, key), 422, "idempotency_key_reused");
      await expectProblem(
        await send(stack, "POST", `/v1/payments/${payment.reference}/refunds`, {
          token: payment.token,
          body: { reason: "me" },
          headers: { "Idempotency-Key": "k" },
        }),
        403,
        "forbidden",
      );
      // The owner and staff list the refunds; someone else gets 404.
      for (const token of [payment.token, service]) {
        const list = await expectJson<{ items: RefundView[] }>(
          await send(stack, "GET", `/v1/payments/${payment.reference}/refunds`, { token }),
          200,
        );
        assert.deepEqual(list.items.map((r) => r.id), [first.id]);
      }
      await expectProblem(
        await send(stack, "GET", `/v1/payments/${payment.reference}/refunds`, { token: await stack.userToken() }),
        404,
        "payment_not_found",
      );
      await providerFinishes();
      assert.equal(await providerRefunds(payment), 1);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("a provider refund that fails after it was accepted gives the reservation back", async () => {
      const payment = await paid();
      sandbox.faults.refundOutcomeNext({ outcome: "failed", reference: payment.reference });
      const accepted = await expectJson<RefundView>(await refund(payment, { reason: "will fail" }), 201);
      assert.equal(accepted.state, "processing");
      await providerFinishes();
      const [row] = await refundRows(payment);
      assert.equal(row!.state, "failed");
      assert.equal(await held(payment), 0);
      assert.equal(await balanceOf(stack, payment.userId), 100_000);
      assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
      // The amount is refundable again.
      await expectJson(await refund(payment, { reason: "again" }), 201);
      await providerFinishes();
      assert.equal((await paymentRow(stack, payment.reference)).state, "refunded");
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step(
      "a crash between the provider's refund and our record: the retry finds it, never sends twice",
      async () => {
        const payment = await paid();
        const key = crypto.randomUUID();
        // Its refund.* webhooks are lost too: only the retry can find the refund.
        sandbox.faults.failWebhooks({ times: 100, status: 500 });
        sandbox.faults.loseRefundAnswerNext({});
        await expectProblem(await refund(payment, { reason: "lost answer" }, key), 503, "provider_unavailable");
        await sandbox.idle();
        assert.equal(await providerRefunds(payment), 1, "the provider has it");
        assert.deepEqual((await refundRows(payment)).map((r) => r.state), ["pending"]);
        // No answer came: our request may still be running at the provider, so
        // a retry inside the claim sends nothing and the refund stays pending.
        const early = await expectJson<RefundView>(await refund(payment, { reason: "lost answer" }, key), 201);
        assert.equal(early.state, "pending");
        assert.equal(await providerRefunds(payment), 1, "not sent again while the first attempt may be running");
        await claimExpires(payment);
        const resumed = await expectJson<RefundView>(await refund(payment, { reason: "lost answer" }, key), 201);
        assert.equal(resumed.state, "processing");
        assert.equal(await providerRefunds(payment), 1, "found by its merchant note, not sent again");
        await sandbox.idle();
        sandbox.faults.reset();
        await providerFinishes();
        assert.equal((await paymentRow(stack, payment.reference)).state, "refunded");
        assert.equal(await balanceOf(stack, payment.userId), 0);
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    );

    await t.step("... or reconciliation finds it, when nobody retries", async () => {
      const payment = await paid();
      sandbox.faults.failWebhooks({ times: 100, status: 500 });
      sandbox.faults.loseRefundAnswerNext({});
      await expectProblem(await refund(payment, { reason: "lost again" }), 503, "provider_unavailable");
      await sandbox.idle();
      sandbox.faults.reset();
      await claimExpires(payment);
      await stack.database.db.query(
        `update refunds set updated_at = now() - interval '1 hour'
          where payment_log_id = (select id from payment_logs where reference = $1)`,
        [payment.reference],
      );
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.refunds.examined >= 1, JSON.stringify(summary));
      assert.deepEqual((await refundRows(payment)).map((r) => r.state), ["processing"]);
      await providerFinishes();
      assert.equal((await paymentRow(stack, payment.reference)).state, "refunded");
      assert.equal(await providerRefunds(payment), 1);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step(
      "a refund_requests row delivered 5 times at once by the Database Webhook: one refund, one debit",
      async () => {
        const payment = await paid();
        const request = await insertRefundRequest(payment, 30_000, "staff refund", "ops@example.test");
        const record = request;
        const hook = () =>
          send(stack, "POST", "/v1/hooks/database", {
            body: { type: "INSERT", table: "refund_requests", schema: "public", record, old_record: null },
            headers: { [DB_WEBHOOK_SECRET_HEADER]: stack.config.dbWebhookSecret },
          });
        const answers = await Promise.all(Array.from({ length: 5 }, hook));
        const outcomes = [];
        for (const res of answers) outcomes.push((await expectJson<{ outcome: string }>(res, 200)).outcome);
        assert.deepEqual(outcomes.filter((o) => o === "refund_started").length, 1, outcomes.join());
        assert.equal((await refundRows(payment)).length, 1);
        await providerFinishes();
        const [row] = await stack.database.db.query<{ status: string; refund_id: string | null }>(
          "select status, refund_id from refund_requests where id = $1",
          [request.id],
        );
        assert.equal(row!.status, "succeeded");
        assert.ok(row!.refund_id);
        assert.equal(await providerRefunds(payment), 1);
        assert.equal(await balanceOf(stack, payment.userId), 70_000);
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    );

    await t.step("a refund request that cannot be a refund is marked failed on its row, with the reason", async () => {
      const payment = await paid(20_000);
      const request = await insertRefundRequest(payment, 99_999, "too much");
      const res = await send(stack, "POST", "/v1/hooks/database", {
        body: {
          type: "INSERT",
          table: "refund_requests",
          schema: "public",
          record: request,
          old_record: null,
        },
        headers: { [DB_WEBHOOK_SECRET_HEADER]: stack.config.dbWebhookSecret },
      });
      assert.equal((await expectJson<{ outcome: string; code: string }>(res, 200)).code, "refund_exceeds_payment");
      const [row] = await stack.database.db.query<{ status: string; failure_reason: string }>(
        "select status, failure_reason from refund_requests where id = $1",
        [request.id],
      );
      assert.equal(row!.status, "failed");
      assert.match(row!.failure_reason, /^refund_exceeds_payment/);
      // Delivered again: the row is already answered, nothing changes.
      const again = await send(stack, "POST", "/v1/hooks/database", {
        body: { type: "INSERT", table: "refund_requests", schema: "public", record: request, old_record: null },
        headers: { [DB_WEBHOOK_SECRET_HEADER]: stack.config.dbWebhookSecret },
      });
      assert.equal((await expectJson<{ outcome: string }>(again, 200)).outcome, "already_handled");
    });

    await t.step("a refund request no Database Webhook delivered is handled by reconciliation", async () => {
      const payment = await paid();
      const request = await insertRefundRequest(payment, 25_000, "hook never came");
      await stack.database.db.query(
        "update refund_requests set created_at = now() - interval '1 hour' where id = $1",
        [request.id],
      );
      const summary = await stack.runtime.useCases.reconcile();
      assert.ok(summary.refund_requests.started >= 1, JSON.stringify(summary.refund_requests));
      await providerFinishes();
      const [row] = await stack.database.db.query<{ status: string }>(
        "select status from refund_requests where id = $1",
        [request.id],
      );
      assert.equal(row!.status, "succeeded");
      assert.equal(await balanceOf(stack, payment.userId), 75_000);
      // A late delivery of the same request afterwards changes nothing.
      const late = await send(stack, "POST", "/v1/hooks/database", {
        body: { type: "INSERT", table: "refund_requests", schema: "public", record: request, old_record: null },
        headers: { [DB_WEBHOOK_SECRET_HEADER]: stack.config.dbWebhookSecret },
      });
      assert.equal((await expectJson<{ outcome: string }>(late, 200)).outcome, "refund_replayed");
      assert.equal((await refundRows(payment)).length, 1);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("the Database Webhook needs its secret: wrong or missing → 401, nothing written", async () => {
      const payment = await paid();
      const request = await insertRefundRequest(payment, null, "no secret");
      const body = {
        type: "INSERT",
        table: "refund_requests",
        schema: "public",
        record: request,
        old_record: null,
      };
      for (const headers of [{}, { [DB_WEBHOOK_SECRET_HEADER]: "wrong-secret-of-some-length" }]) {
        await expectProblem(await send(stack, "POST", "/v1/hooks/database", { body, headers }), 401, "unauthorized");
      }
      assert.equal((await refundRows(payment)).length, 0);
      const [row] = await stack.database.db.query<{ status: string }>(
        "select status from refund_requests where id = $1",
        [request.id],
      );
      assert.equal(row!.status, "pending");
      // Other tables are ignored; a malformed body is 400.
      const secret = { [DB_WEBHOOK_SECRET_HEADER]: stack.config.dbWebhookSecret };
      const ignored = await send(stack, "POST", "/v1/hooks/database", {
        body: { ...body, table: "wallets" },
        headers: secret,
      });
      assert.equal((await expectJson<{ outcome: string }>(ignored, 200)).outcome, "ignored");
      await expectProblem(
        await send(stack, "POST", "/v1/hooks/database", { body: { type: "INSERT" }, headers: secret }),
        422,
        "validation_failed",
      );
      await expectProblem(
        await send(stack, "POST", "/v1/hooks/database", { body: { ...body, record: { id: "x" } }, headers: secret }),
        400,
        "bad_request",
      );
    });
  } finally {
    await stack.close();
  }
});
