/**
 * The SQL side of provider reconciliation: resolve_provider_reference and the
 * per-provider cursor (migration 20261128000001).
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlSession } from "../../src/db/sql_client.ts";
import type { Payment } from "../../src/payments/payment_store.ts";
import { assertSqlState, newPayment, rpc, walk } from "./sql_test_kit.ts";

interface Resolution {
  outcome: string;
  payment: Payment | null;
  credits: number;
  credited_provider_reference: string | null;
}

interface Cursor {
  provider: string;
  checked_until: string;
  updated_at: string;
}

const resolve = (db: SqlSession, providerReference: string) =>
  rpc<Resolution>(db, "resolve_provider_reference", { p_provider_reference: providerReference });

const credit = (db: SqlSession, p: Payment, providerReference = p.reference, amount = p.amount) =>
  rpc(db, "credit_user", {
    p_reference: p.reference,
    p_amount: amount,
    p_currency: p.currency,
    p_provider_payload: { reference: providerReference, status: "success" },
  });

Deno.test("resolve_provider_reference", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step("a pending payment is not_credited, by its own reference", async () => {
      const p = await newPayment(db);
      const r = await resolve(db, p.reference);
      assert.equal(r.outcome, "not_credited");
      assert.equal(r.payment?.reference, p.reference);
      assert.equal(r.credits, 0);
      assert.equal(r.credited_provider_reference, null);
    });

    await t.step("a failed payment (declined, abandoned) is still not_credited: a late success is owed", async () => {
      const p = await newPayment(db);
      await rpc(db, "fail_payment", { p_reference: p.reference, p_reason: "abandoned: never paid" });
      const r = await resolve(db, p.reference);
      assert.equal(r.outcome, "not_credited");
      assert.equal(r.payment?.state, "failed");
    });

    await t.step("a credited payment is credited once, naming the provider reference credited", async () => {
      const p = await newPayment(db);
      await credit(db, p);
      const r = await resolve(db, p.reference);
      assert.deepEqual([r.outcome, r.credits, r.credited_provider_reference], ["credited", 1, p.reference]);
      assert.equal(r.payment?.state, "completed");
    });

    await t.step("a payment failed for a mismatch is mismatch", async () => {
      const p = await newPayment(db);
      await credit(db, p, p.reference, p.amount - 1);
      const r = await resolve(db, p.reference);
      assert.deepEqual([r.outcome, r.credits, r.payment?.state], ["mismatch", 0, "failed"]);
    });

    await t.step("any attempt's reference resolves to its payment; one beyond its attempts is unknown", async () => {
      const p = await newPayment(db);
      await rpc(db, "open_provider_attempt", { p_reference: p.reference });
      await credit(db, p, `${p.reference}.r2`);
      const second = await resolve(db, `${p.reference}.r2`);
      assert.deepEqual([second.outcome, second.credited_provider_reference], ["credited", `${p.reference}.r2`]);
      // The first attempt is the same payment, credited for the other attempt: the caller sees it.
      const first = await resolve(db, p.reference);
      assert.deepEqual([first.outcome, first.credited_provider_reference], ["credited", `${p.reference}.r2`]);
      for (const other of [`${p.reference}.r3`, `${p.reference}.rx`, `${p.reference}-x`]) {
        assert.equal((await resolve(db, other)).outcome, "unknown_reference", other);
      }
    });

    await t.step("a reference we never issued is unknown_reference", async () => {
      const r = await resolve(db, "T123456789abc");
      assert.deepEqual(r, {
        outcome: "unknown_reference",
        payment: null,
        credits: 0,
        credited_provider_reference: null,
      });
    });

    await t.step("a refunded payment counts as credited", async () => {
      const p = await newPayment(db);
      await credit(db, p);
      await walk(db, p.reference, ["refunded"]);
      assert.equal((await resolve(db, p.reference)).outcome, "credited");
    });

    await t.step("a missing reference is PM008", async () => {
      await assertSqlState(() => resolve(db, ""), "PM008");
    });
  } finally {
    await close();
  }
});

Deno.test("the provider reconciliation cursor", async (t) => {
  const { db, close } = await createTestDatabase();
  const get = (provider: string) =>
    rpc<Cursor | null>(db, "get_provider_reconciliation_cursor", { p_provider: provider });
  const advance = (provider: string, at: string) =>
    rpc<Cursor>(db, "advance_provider_reconciliation_cursor", { p_provider: provider, p_checked_until: at });
  try {
    await t.step("is null before the first pass", async () => {
      assert.equal(await get("paystack"), null);
    });

    await t.step("moves forward, never back, one row per provider", async () => {
      const first = await advance("paystack", "2026-11-27T10:00:00Z");
      assert.equal(first.checked_until, "2026-11-27T10:00:00.000000Z");
      assert.equal((await advance("paystack", "2026-11-27T11:00:00Z")).checked_until, "2026-11-27T11:00:00.000000Z");
      assert.equal((await advance("paystack", "2026-11-27T09:00:00Z")).checked_until, "2026-11-27T11:00:00.000000Z");
      assert.equal((await get("paystack"))?.checked_until, "2026-11-27T11:00:00.000000Z");
      assert.equal(await get("flutterwave"), null);
      await advance("flutterwave", "2026-11-20T00:00:00Z");
      assert.equal((await get("paystack"))?.checked_until, "2026-11-27T11:00:00.000000Z");
    });

    await t.step("refuses a cursor far in the future, a missing one and a bad provider name (PM008)", async () => {
      const future = new Date(Date.now() + 2 * 3_600_000).toISOString();
      await assertSqlState(() => advance("paystack", future), "PM008");
      await assertSqlState(
        () => rpc(db, "advance_provider_reconciliation_cursor", { p_provider: "paystack", p_checked_until: null }),
        "PM008",
      );
      await assertSqlState(() => advance("Pay Stack", "2026-11-27T10:00:00Z"), "PM008");
    });
  } finally {
    await close();
  }
});
