/**
 * The migrations are plain Postgres: they apply on PGlite (the embedded mode's
 * engine) unchanged, and the money path works there too.
 */
import assert from "node:assert/strict";
import { openPGlite } from "../../src/db/sql_client.ts";
import { migrate, readMigrations } from "../../src/db/migrate.ts";
import type { CreditResult } from "../../src/payments/payment_store.ts";
import { assertSqlState, newPayment, newUserId, rpc, rpcRows } from "./sql_test_kit.ts";

Deno.test("every migration applies on PGlite and the credit path runs there", async (t) => {
  const db = await openPGlite();
  try {
    const { applied } = await migrate(db);
    assert.deepEqual(applied, (await readMigrations()).map((m) => m.version));

    await t.step("ping answers", async () => {
      assert.equal(await rpc(db, "ping"), "ok");
    });

    await t.step("begin, credit once, wallet and invariants", async () => {
      const user = newUserId();
      const p = await newPayment(db, { userId: user, amount: 2500 });
      const first = await rpc<CreditResult>(db, "credit_user", {
        p_reference: p.reference,
        p_amount: 2500,
        p_currency: "NGN",
        p_fence: 3,
      });
      assert.equal(first.outcome, "credited");
      const again = await rpc<CreditResult>(db, "credit_user", {
        p_reference: p.reference,
        p_amount: 2500,
        p_currency: "NGN",
      });
      assert.equal(again.outcome, "already_credited");
      const wallet = await rpc<{ balances: { balance: number }[] }>(db, "get_wallet", { p_user_id: user });
      assert.equal(wallet.balances[0]?.balance, 2500);
      assert.deepEqual(await rpcRows(db, "check_ledger_invariants"), []);
    });

    await t.step("SQLSTATEs come through PGlite too", async () => {
      const p = await newPayment(db);
      await rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 5 });
      await assertSqlState(rpc(db, "mark_processing", { p_reference: p.reference, p_fence: 4 }), "PM003");
      await assertSqlState(db.query("update public.payment_logs set state = 'pending' where id = $1", [p.id]), "PM001");
      await assertSqlState(db.query("delete from public.sms_transactions"), "PM007");
    });
  } finally {
    await db.close();
  }
});
