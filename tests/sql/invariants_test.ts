/**
 * check_ledger_invariants on healthy data (no rows) and on data corrupted the
 * only way it can be: as a superuser bypassing the constraints and triggers,
 * inside a transaction that is rolled back afterwards.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlSession } from "../../src/db/sql_client.ts";
import type { InvariantViolation, Payment } from "../../src/payments/payment_store.ts";
import { inRollback, newPayment, newUserId, rpc, rpcRows, walk } from "./sql_test_kit.ts";

function violations(db: SqlSession): Promise<InvariantViolation[]> {
  return rpcRows<InvariantViolation & Record<string, unknown>>(db, "check_ledger_invariants");
}

function kinds(found: InvariantViolation[]): string[] {
  return [...new Set(found.map((v) => v.invariant))].sort();
}

async function creditedPayment(db: SqlSession, userId: string, amount: number): Promise<Payment> {
  const p = await newPayment(db, { userId, amount });
  await rpc(db, "credit_user", { p_reference: p.reference, p_amount: amount, p_currency: "NGN" });
  return p;
}

async function walletId(db: SqlSession, userId: string): Promise<string> {
  const [row] = await db.query<{ id: string }>("select id from public.wallets where user_id = $1", [userId]);
  assert.ok(row);
  return row.id;
}

Deno.test("check_ledger_invariants", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const user = newUserId();
    const credited = await creditedPayment(db, user, 5000);
    await creditedPayment(db, user, 1500);
    const failed = await newPayment(db, { userId: user });
    await rpc(db, "credit_user", { p_reference: failed.reference, p_amount: 1, p_currency: "NGN" });
    await newPayment(db, { userId: user });
    const wallet = await walletId(db, user);

    await t.step("healthy data breaks no invariant", async () => {
      assert.deepEqual(await violations(db), []);
    });

    await t.step("a wallet balance that drifted from its ledger is a balance_mismatch", async () => {
      await inRollback(db, async (tx) => {
        await tx.query("update public.wallets set balance = balance + 1 where id = $1", [wallet]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["balance_mismatch"]);
        assert.equal(found[0]?.subject, wallet);
        assert.equal(found[0]?.detail.balance, 6501);
        assert.equal(found[0]?.detail.ledger_total, 6500);
      });
    });

    await t.step("a negative balance is reported", async () => {
      await inRollback(db, async (tx) => {
        await tx.query(
          "alter table public.wallets drop constraint wallets_balance_check, drop constraint wallets_held_check",
        );
        await tx.query("update public.wallets set balance = -10 where id = $1", [wallet]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["balance_mismatch", "negative_balance"]);
        assert.equal(found.find((v) => v.invariant === "negative_balance")?.subject, wallet);
      });
    });

    await t.step("a completed payment without its credit is completed_without_single_credit", async () => {
      await inRollback(db, async (tx) => {
        const p = await newPayment(tx, { userId: user });
        // The generic writer can complete a payment without crediting it: the check catches that.
        await walk(tx, p.reference, ["processing", "completed"]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["completed_without_single_credit"]);
        assert.equal(found[0]?.subject, p.reference);
        assert.equal(found[0]?.detail.credits, 0);
      });
    });

    await t.step("a credit for a payment that is not completed is credit_without_completed_payment", async () => {
      await inRollback(db, async (tx) => {
        const p = await newPayment(tx, { userId: user, amount: 700 });
        await tx.query(
          `insert into public.sms_transactions
             (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after)
           values ('credit-forged', 'credit:forged', $1, $2, $3, 'credit', 700, 'NGN', 7200)`,
          [p.id, user, wallet],
        );
        await tx.query("update public.wallets set balance = balance + 700 where id = $1", [wallet]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["credit_without_completed_payment"]);
        assert.equal(found[0]?.subject, "credit-forged");
        assert.equal(found[0]?.detail.payment_state, "pending");
      });
    });

    await t.step("a credit for another amount than the payment's is credit_amount_mismatch", async () => {
      await inRollback(db, async (tx) => {
        await tx.query("alter table public.sms_transactions disable trigger sms_transactions_append_only");
        await tx.query("update public.sms_transactions set amount = amount - 100 where payment_log_id = $1", [
          credited.id,
        ]);
        await tx.query("update public.wallets set balance = balance - 100 where id = $1", [wallet]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["credit_amount_mismatch"]);
        assert.equal(found[0]?.subject, `credit-${credited.reference}`);
        assert.equal(found[0]?.detail.credit_amount, 4900);
        assert.equal(found[0]?.detail.payment_amount, 5000);
      });
    });

    await t.step("a second credit for one payment (unique index dropped) is reported twice over", async () => {
      await inRollback(db, async (tx) => {
        await tx.query("drop index public.sms_transactions_one_credit_per_payment");
        await tx.query(
          `insert into public.sms_transactions
             (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after)
           values ('credit-twice', 'credit:twice', $1, $2, $3, 'credit', 5000, 'NGN', 11500)`,
          [credited.id, user, wallet],
        );
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["balance_mismatch", "completed_without_single_credit"]);
        assert.equal(found.find((v) => v.invariant === "completed_without_single_credit")?.detail.credits, 2);
      });
    });

    await t.step("the corruptions were rolled back", async () => {
      assert.deepEqual(await violations(db), []);
    });
  } finally {
    await close();
  }
});
