import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlSession } from "../../src/db/sql_client.ts";
import type { CreditResult, LedgerEntry, Page, Payment, WalletBalance } from "../../src/payments/payment_store.ts";
import { assertSqlState, newPayment, newUserId, paymentOf, rpc } from "./sql_test_kit.ts";

type Wallet = { balances: WalletBalance[] } & Page<LedgerEntry>;

function credit(db: SqlSession, args: Record<string, unknown>): Promise<CreditResult> {
  return rpc<CreditResult>(db, "credit_user", { p_currency: "NGN", ...args });
}

function wallet(db: SqlSession, userId: string, extra: Record<string, unknown> = {}): Promise<Wallet> {
  return rpc<Wallet>(db, "get_wallet", { p_user_id: userId, ...extra });
}

async function ledgerCount(db: SqlSession, paymentId: string): Promise<number> {
  const [row] = await db.query<{ n: string }>(
    "select count(*) as n from public.sms_transactions where payment_log_id = $1",
    [paymentId],
  );
  return Number(row?.n);
}

async function lastFence(db: SqlSession, reference: string): Promise<string | null> {
  const [row] = await db.query<{ last_fence: string | null }>(
    "select last_fence from public.payment_logs where reference = $1",
    [reference],
  );
  return row?.last_fence ?? null;
}

Deno.test("the credit path (mark_processing, credit_user, fail_payment, get_wallet)", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step("mark_processing moves pending to processing once, then is idempotent", async () => {
      const p = await newPayment(db);
      const first = await rpc<{ changed: boolean; payment: Payment }>(db, "mark_processing", {
        p_reference: p.reference,
        p_actor: "verify",
        p_reason: "client verify",
      });
      assert.equal(first.changed, true);
      assert.equal(first.payment.state, "processing");
      assert.ok(first.payment.processing_started_at);
      const last = first.payment.state_transitions.at(-1)!;
      assert.deepEqual([last.from, last.to, last.actor, last.reason], [
        "pending",
        "processing",
        "verify",
        "client verify",
      ]);
      const again = await rpc<{ changed: boolean; payment: Payment }>(db, "mark_processing", {
        p_reference: p.reference,
      });
      assert.equal(again.changed, false);
      assert.deepEqual(again.payment, first.payment);
      await assertSqlState(rpc(db, "mark_processing", { p_reference: "pay-nope" }), "PM004");
    });

    await t.step("credit_user credits once: ledger entry, balance, completed payment", async () => {
      const user = newUserId();
      const p = await newPayment(db, { userId: user, amount: 5000 });
      await rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 1, p_actor: "verify" });
      const result = await credit(db, {
        p_reference: p.reference,
        p_amount: 5000,
        p_provider_payload: { status: "success", id: 42 },
        p_fence: 1,
        p_actor: "verify",
        p_reason: "provider verified",
      });
      assert.equal(result.outcome, "credited");
      assert.equal(result.credited, true);
      assert.equal(result.payment.state, "completed");
      assert.ok(result.payment.processing_completed_at);
      const last = result.payment.state_transitions.at(-1)!;
      assert.deepEqual([last.from, last.to, last.actor, last.reason], [
        "processing",
        "completed",
        "verify",
        "provider verified",
      ]);
      const w = await wallet(db, user);
      assert.deepEqual(w.balances.map((b) => [b.currency, b.balance]), [["NGN", 5000]]);
      assert.equal(w.items.length, 1);
      const [entry] = w.items;
      assert.equal(entry?.type, "credit");
      assert.equal(entry?.amount, 5000);
      assert.equal(entry?.balance_after, 5000);
      assert.equal(entry?.payment_reference, p.reference);
      assert.equal(entry?.reference, `credit-${p.reference}`);
      const [stored] = await db.query<{ provider_payload: unknown; idempotency_key: string }>(
        `select p.provider_payload, t.idempotency_key
           from public.payment_logs p join public.sms_transactions t on t.payment_log_id = p.id
          where p.id = $1`,
        [p.id],
      );
      assert.deepEqual(stored?.provider_payload, { status: "success", id: 42 });
      assert.equal(stored?.idempotency_key, `credit:${p.id}`);
    });

    await t.step("a second credit is already_credited and changes no money", async () => {
      const user = newUserId();
      const p = await newPayment(db, { userId: user, amount: 1200 });
      assert.equal((await credit(db, { p_reference: p.reference, p_amount: 1200 })).outcome, "credited");
      const again = await credit(db, { p_reference: p.reference, p_amount: 1200 });
      assert.equal(again.outcome, "already_credited");
      assert.equal(again.credited, false);
      assert.equal(again.payment.state, "completed");
      assert.equal(await ledgerCount(db, p.id), 1);
      assert.equal((await wallet(db, user)).balances[0]?.balance, 1200);
    });

    await t.step("credit straight from pending records pending → processing → completed", async () => {
      const p = await newPayment(db);
      const result = await credit(db, { p_reference: p.reference, p_amount: 5000, p_actor: "webhook" });
      assert.deepEqual(
        result.payment.state_transitions.map((s) => [s.from, s.to]),
        [[null, "pending"], ["pending", "processing"], ["processing", "completed"]],
      );
    });

    await t.step("balance_after follows the wallet across several credits", async () => {
      const user = newUserId();
      for (const amount of [100, 250, 50]) {
        const p = await newPayment(db, { userId: user, amount });
        await credit(db, { p_reference: p.reference, p_amount: amount });
      }
      const w = await wallet(db, user);
      assert.equal(w.balances[0]?.balance, 400);
      assert.deepEqual(w.items.map((i) => i.balance_after), [400, 350, 100]);
    });

    await t.step("an amount mismatch fails the payment with the reason and credits nothing", async () => {
      const user = newUserId();
      const p = await newPayment(db, { userId: user, amount: 5000 });
      const result = await credit(db, {
        p_reference: p.reference,
        p_amount: 4000,
        p_provider_payload: { amount: 4000 },
      });
      assert.equal(result.outcome, "mismatch");
      assert.equal(result.credited, false);
      assert.equal(result.payment.state, "failed");
      assert.equal(result.payment.failure_reason, "amount_mismatch: provider confirmed 4000 NGN, expected 5000 NGN");
      assert.deepEqual(
        result.payment.state_transitions.map((s) => [s.from, s.to]),
        [[null, "pending"], ["pending", "processing"], ["processing", "failed"]],
      );
      assert.equal(await ledgerCount(db, p.id), 0);
      assert.deepEqual((await wallet(db, user)).balances, []);
      const [row] = await db.query<{ provider_payload: unknown }>(
        "select provider_payload from public.payment_logs where id = $1",
        [p.id],
      );
      assert.deepEqual(row?.provider_payload, { amount: 4000 });
    });

    await t.step("a currency mismatch is a mismatch too", async () => {
      const p = await newPayment(db, { amount: 5000 });
      const result = await credit(db, { p_reference: p.reference, p_amount: 5000, p_currency: "USD" });
      assert.equal(result.outcome, "mismatch");
      assert.match(result.payment.failure_reason ?? "", /^amount_mismatch: provider confirmed 5000 USD/);
    });

    await t.step(
      "a late success credits a payment failed for any reason but a mismatch (paid means credited)",
      async () => {
        const p = await newPayment(db);
        await rpc(db, "fail_payment", {
          p_reference: p.reference,
          p_reason: "abandoned: still ongoing at the provider",
        });
        const result = await credit(db, { p_reference: p.reference, p_amount: 5000, p_actor: "webhook" });
        assert.equal(result.outcome, "credited");
        assert.equal(result.credited, true);
        assert.equal(result.late_success, true);
        assert.equal(await ledgerCount(db, p.id), 1);
        const after = await paymentOf(db, p.reference);
        assert.equal(after.state, "completed");
        assert.equal(after.failure_reason, null);
        const trail = (after.state_transitions as Array<{ from: string | null; to: string; reason: string }>)
          .map((s) => `${s.from}→${s.to}:${s.reason}`);
        assert.deepEqual(trail.slice(-3), [
          "pending→failed:abandoned: still ongoing at the provider",
          "failed→processing:late_success",
          "processing→completed:late_success",
        ]);
        const again = await credit(db, { p_reference: p.reference, p_amount: 5000 });
        assert.equal(again.outcome, "already_credited");
        assert.equal(await ledgerCount(db, p.id), 1);
      },
    );

    await t.step(
      "a payment failed for a mismatch is not_creditable, and a mismatching late success marks it so",
      async () => {
        const p = await newPayment(db);
        const mismatch = await credit(db, { p_reference: p.reference, p_amount: 4999 });
        assert.equal(mismatch.outcome, "mismatch");
        const refused = await credit(db, { p_reference: p.reference, p_amount: 5000 });
        assert.equal(refused.outcome, "not_creditable");
        assert.equal(refused.credited, false);
        assert.equal(await ledgerCount(db, p.id), 0);

        const declined = await newPayment(db);
        await rpc(db, "fail_payment", { p_reference: declined.reference, p_reason: "provider_status: failed" });
        const late = await credit(db, { p_reference: declined.reference, p_amount: 5000, p_currency: "GHS" });
        assert.equal(late.outcome, "mismatch");
        const row = await paymentOf(db, declined.reference);
        assert.equal(row.state, "failed");
        assert.match(String(row.failure_reason), /^amount_mismatch:/);
        assert.equal((await credit(db, { p_reference: declined.reference, p_amount: 5000 })).outcome, "not_creditable");
        assert.equal(await ledgerCount(db, declined.id), 0);
      },
    );

    await t.step("credit_user refuses a missing payment (PM004) and a malformed currency (PM008)", async () => {
      await assertSqlState(credit(db, { p_reference: "pay-missing", p_amount: 1 }), "PM004");
      const p = await newPayment(db);
      await assertSqlState(credit(db, { p_reference: p.reference, p_amount: 5000, p_currency: "ngn" }), "PM008");
      assert.equal((await paymentOf(db, p.reference)).state, "pending");
    });

    await t.step("a stale fence is refused with PM003; equal and higher fences pass", async () => {
      const user = newUserId();
      const p = await newPayment(db, { userId: user });
      await rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 5 });
      assert.equal(await lastFence(db, p.reference), "5");
      await assertSqlState(credit(db, { p_reference: p.reference, p_amount: 5000, p_fence: 3 }), "PM003");
      await assertSqlState(rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 4 }), "PM003");
      await assertSqlState(rpc(db, "fail_payment", { p_reference: p.reference, p_reason: "x", p_fence: 4 }), "PM003");
      assert.equal((await paymentOf(db, p.reference)).state, "processing");
      assert.equal(await ledgerCount(db, p.id), 0);
      // The same holder (fence 5) goes on to credit.
      assert.equal((await credit(db, { p_reference: p.reference, p_amount: 5000, p_fence: 5 })).outcome, "credited");
      // A later holder's higher fence is stored; the older one is refused from then on.
      assert.equal(
        (await credit(db, { p_reference: p.reference, p_amount: 5000, p_fence: 9 })).outcome,
        "already_credited",
      );
      assert.equal(await lastFence(db, p.reference), "9");
      await assertSqlState(credit(db, { p_reference: p.reference, p_amount: 5000, p_fence: 5 }), "PM003");
      // Without the lock (degraded mode) there is no fence check.
      assert.equal((await credit(db, { p_reference: p.reference, p_amount: 5000 })).outcome, "already_credited");
      assert.equal((await wallet(db, user)).balances[0]?.balance, 5000);
    });

    await t.step("fail_payment fails pending and processing payments, leaves settled ones", async () => {
      const pending = await newPayment(db);
      const failed = await rpc<{ changed: boolean; payment: Payment }>(db, "fail_payment", {
        p_reference: pending.reference,
        p_reason: "provider: abandoned",
        p_provider_payload: { status: "abandoned" },
        p_actor: "reconcile",
      });
      assert.equal(failed.changed, true);
      assert.equal(failed.payment.state, "failed");
      assert.equal(failed.payment.failure_reason, "provider: abandoned");
      assert.ok(failed.payment.processing_completed_at);
      const last = failed.payment.state_transitions.at(-1)!;
      assert.deepEqual([last.from, last.to, last.actor, last.reason], [
        "pending",
        "failed",
        "reconcile",
        "provider: abandoned",
      ]);

      const processing = await newPayment(db);
      await rpc(db, "mark_processing", { p_reference: processing.reference });
      assert.equal(
        (await rpc<{ changed: boolean }>(db, "fail_payment", {
          p_reference: processing.reference,
          p_reason: "declined",
        }))
          .changed,
        true,
      );

      const completed = await newPayment(db);
      await credit(db, { p_reference: completed.reference, p_amount: 5000 });
      const unchanged = await rpc<{ changed: boolean; payment: Payment }>(db, "fail_payment", {
        p_reference: completed.reference,
        p_reason: "late failure",
      });
      assert.equal(unchanged.changed, false);
      assert.equal(unchanged.payment.state, "completed");
      assert.equal(unchanged.payment.failure_reason, null);
      await assertSqlState(rpc(db, "fail_payment", { p_reference: completed.reference, p_reason: "" }), "PM008");
      await assertSqlState(rpc(db, "fail_payment", { p_reference: "pay-missing", p_reason: "x" }), "PM004");
    });

    await t.step("credit_user and fail_payment mark the webhook event processed in the same transaction", async () => {
      const p = await newPayment(db);
      const event = await rpc<{ event_id: string; processed: boolean }>(db, "record_webhook_event", {
        p_provider: "paystack",
        p_event_key: `charge.success:${p.reference}`,
        p_event_type: "charge.success",
        p_reference: p.reference,
        p_payload: { event: "charge.success" },
      });
      assert.equal(event.processed, false);
      const result = await credit(db, { p_reference: p.reference, p_amount: 5000, p_webhook_event_id: event.event_id });
      assert.equal(result.outcome, "credited");
      const [row] = await db.query<{ processed_at: Date | null; outcome: string | null }>(
        "select processed_at, outcome from public.webhook_events where id = $1",
        [event.event_id],
      );
      assert.ok(row?.processed_at);
      assert.equal(row?.outcome, "credited");

      const other = await newPayment(db);
      const failEvent = await rpc<{ event_id: string }>(db, "record_webhook_event", {
        p_provider: "paystack",
        p_event_key: `charge.failed:${other.reference}`,
        p_event_type: "charge.failed",
        p_reference: other.reference,
        p_payload: {},
      });
      await rpc(db, "fail_payment", {
        p_reference: other.reference,
        p_reason: "declined",
        p_webhook_event_id: failEvent.event_id,
      });
      const [failRow] = await db.query<{ outcome: string | null }>(
        "select outcome from public.webhook_events where id = $1",
        [failEvent.event_id],
      );
      assert.equal(failRow?.outcome, "failed");
    });

    await t.step("a failed credit leaves the webhook event unprocessed (retried, never skipped)", async () => {
      const p = await newPayment(db);
      await rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 10 });
      const event = await rpc<{ event_id: string }>(db, "record_webhook_event", {
        p_provider: "paystack",
        p_event_key: `evt-stale-${p.reference}`,
        p_event_type: "charge.success",
        p_reference: p.reference,
        p_payload: {},
      });
      await assertSqlState(
        credit(db, { p_reference: p.reference, p_amount: 5000, p_fence: 2, p_webhook_event_id: event.event_id }),
        "PM003",
      );
      const [row] = await db.query<{ processed_at: Date | null }>(
        "select processed_at from public.webhook_events where id = $1",
        [event.event_id],
      );
      assert.equal(row?.processed_at, null);
      await assertSqlState(
        credit(db, { p_reference: p.reference, p_amount: 5000, p_webhook_event_id: crypto.randomUUID() }),
        "PM008",
      );
      assert.equal(await ledgerCount(db, p.id), 0);
    });

    await t.step("get_wallet pages the ledger newest first with a keyset cursor", async () => {
      const user = newUserId();
      const refs: string[] = [];
      for (const [amount, currency] of [[100, "NGN"], [200, "NGN"], [300, "GHS"]] as const) {
        const p = await newPayment(db, { userId: user, amount, currency });
        await credit(db, { p_reference: p.reference, p_amount: amount, p_currency: currency });
        refs.push(p.reference);
      }
      const first = await wallet(db, user, { p_limit: 2 });
      assert.deepEqual(first.balances.map((b) => [b.currency, b.balance]), [["GHS", 300], ["NGN", 300]]);
      assert.deepEqual(first.items.map((i) => i.payment_reference), [refs[2], refs[1]]);
      assert.ok(first.next_cursor);
      assert.deepEqual(first.next_cursor, { created_at: first.items[1]!.created_at, id: first.items[1]!.id });
      const second = await wallet(db, user, {
        p_limit: 2,
        p_cursor_created_at: first.next_cursor.created_at,
        p_cursor_id: first.next_cursor.id,
      });
      assert.deepEqual(second.items.map((i) => i.payment_reference), [refs[0]]);
      assert.equal(second.next_cursor, null);
      assert.deepEqual(await wallet(db, newUserId()), { balances: [], items: [], next_cursor: null });
      await assertSqlState(wallet(db, user, { p_cursor_id: first.next_cursor.id }), "PM008");
    });
  } finally {
    await close();
  }
});

Deno.test("payment reads (get_payment, get_payment_by_reference, list_payments)", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const owner = newUserId();
    const stranger = newUserId();
    const mine: Payment[] = [];
    for (let i = 0; i < 5; i++) mine.push(await newPayment(db, { userId: owner, amount: 100 + i }));
    await newPayment(db, { userId: stranger });

    await t.step("get_payment returns the owner's payment and null for anyone else", async () => {
      const p = mine[0]!;
      assert.equal((await rpc<Payment>(db, "get_payment", { p_user_id: owner, p_reference: p.reference })).id, p.id);
      assert.equal(await rpc(db, "get_payment", { p_user_id: stranger, p_reference: p.reference }), null);
      assert.equal(await rpc(db, "get_payment", { p_user_id: owner, p_reference: "pay-none" }), null);
    });

    await t.step("get_payment_by_reference returns any payment, or null", async () => {
      assert.equal((await paymentOf(db, mine[1]!.reference)).user_id, owner);
      assert.equal(await rpc(db, "get_payment_by_reference", { p_reference: "pay-none" }), null);
    });

    await t.step("list_payments pages the user's payments newest first", async () => {
      const seen: string[] = [];
      let cursor: { created_at: string; id: string } | null = null;
      let pages = 0;
      do {
        const page: Page<Payment> = await rpc<Page<Payment>>(db, "list_payments", {
          p_user_id: owner,
          p_limit: 2,
          p_cursor_created_at: cursor?.created_at ?? null,
          p_cursor_id: cursor?.id ?? null,
        });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((p) => p.id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(seen, mine.map((p) => p.id).reverse());
    });

    await t.step("list_payments clamps the limit to 1..100", async () => {
      const one = await rpc<Page<Payment>>(db, "list_payments", { p_user_id: owner, p_limit: 0 });
      assert.equal(one.items.length, 1);
      const all = await rpc<Page<Payment>>(db, "list_payments", { p_user_id: owner, p_limit: 1000 });
      assert.equal(all.items.length, 5);
      assert.equal(all.next_cursor, null);
    });
  } finally {
    await close();
  }
});
