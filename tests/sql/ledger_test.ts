import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import { assertSqlState, newPayment, rpc } from "./sql_test_kit.ts";

Deno.test("sms_transactions is an append-only ledger with one credit per payment", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const payment = await newPayment(db, { amount: 2500 });
    const credit = await rpc<{ outcome: string }>(db, "credit_user", {
      p_reference: payment.reference,
      p_amount: 2500,
      p_currency: "NGN",
    });
    assert.equal(credit.outcome, "credited");
    const [entry] = await db.query<{ id: string; wallet_id: string }>(
      "select id, wallet_id from public.sms_transactions where payment_log_id = $1",
      [payment.id],
    );
    assert.ok(entry);

    await t.step("UPDATE of a ledger entry is refused with PM007", async () => {
      await assertSqlState(
        db.query("update public.sms_transactions set amount = 1 where id = $1", [entry.id]),
        "PM007",
      );
    });

    await t.step("DELETE of a ledger entry is refused with PM007", async () => {
      await assertSqlState(db.query("delete from public.sms_transactions where id = $1", [entry.id]), "PM007");
    });

    await t.step("TRUNCATE of the ledger is refused with PM007", async () => {
      await assertSqlState(db.query("truncate public.sms_transactions cascade"), "PM007");
    });

    await t.step("a second credit row for the same payment is a unique violation", async () => {
      await assertSqlState(
        db.query(
          `insert into public.sms_transactions
             (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after)
           values ('credit-again', 'credit:again', $1, $2, $3, 'credit', 2500, 'NGN', 5000)`,
          [payment.id, payment.user_id, entry.wallet_id],
        ),
        "23505",
      );
    });

    await t.step("a refund entry for the same payment is not a second credit", async () => {
      // Refunds and debits reference the payment too; only `credit` is unique per payment.
      await db.query(
        `insert into public.sms_transactions
           (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after)
         values ('refund-1', 'refund:1', $1, $2, $3, 'refund', 100, 'NGN', 2400)`,
        [payment.id, payment.user_id, entry.wallet_id],
      );
      const [row] = await db.query<{ n: string }>(
        "select count(*) as n from public.sms_transactions where payment_log_id = $1",
        [payment.id],
      );
      assert.equal(row?.n, "2");
    });

    await t.step("the ledger still holds the original credit untouched", async () => {
      const [row] = await db.query<{ amount: string; balance_after: string; type: string }>(
        "select amount, balance_after, type from public.sms_transactions where id = $1",
        [entry.id],
      );
      assert.deepEqual(row, { amount: "2500", balance_after: "2500", type: "credit" });
    });

    await t.step("a wallet balance can never go negative (check constraint)", async () => {
      await assertSqlState(
        db.query("update public.wallets set balance = -1 where id = $1", [entry.wallet_id]),
        "23514",
      );
    });
  } finally {
    await close();
  }
});
