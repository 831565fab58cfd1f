/**
 * debit_wallet at the SQL level (migration 20261128000002_refunds_debits):
 * the SMS platform spends credit in one transaction on the locked wallet
 * row, never below what is held for refunds in flight, idempotent per
 * (user, Idempotency-Key). Every scenario ends with
 * check_ledger_invariants() empty.
 */
import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlClient, SqlSession } from "../../src/db/sql_client.ts";
import {
  assertLedgerHolds,
  assertSqlState,
  creditedPayment,
  moneyOf,
  newUserId,
  raceBehindLock,
  rpc,
} from "./sql_test_kit.ts";

/** A debit as private._debit_json renders it. */
interface Debit {
  id: string;
  reference: string;
  user_id: string;
  amount: number;
  currency: string;
  reason: string | null;
  balance_after: number;
  created_at: string;
}

interface Debited {
  replayed: boolean;
  debit: Debit;
}

interface WalletBalance {
  currency: string;
  balance: number;
  held: number;
  available: number;
  updated_at: string;
}

interface WalletPage {
  balances: WalletBalance[];
  items: { id: string; reference: string; type: string; amount: number; payment_reference: string | null }[];
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function debit(
  db: SqlSession,
  userId: string,
  amount: number | null,
  args: Record<string, unknown> = {},
): Promise<Debited> {
  return rpc<Debited>(db, "debit_wallet", {
    p_user_id: userId,
    p_currency: "NGN",
    p_amount: amount,
    p_reason: "sms: 1 message",
    p_idempotency_key: crypto.randomUUID(),
    p_fingerprint: "fp",
    ...args,
  });
}

function beginRefund(db: SqlSession, reference: string, amount: number) {
  return rpc<{ outcome: string; refund: { id: string; amount: number } }>(db, "begin_refund", {
    p_reference: reference,
    p_amount: amount,
    p_reason: "customer asked",
    p_request_key: `api:${crypto.randomUUID()}`,
    p_fingerprint: "fp",
  });
}

function wallet(db: SqlSession, userId: string): Promise<WalletPage> {
  return rpc<WalletPage>(db, "get_wallet", { p_user_id: userId });
}

/** [balance, held, available] of the user's NGN wallet, from get_wallet. */
async function money(db: SqlSession, userId: string, currency = "NGN"): Promise<[number, number, number]> {
  const b = (await wallet(db, userId)).balances.find((w) => w.currency === currency);
  assert.ok(b, `${userId} has a ${currency} wallet`);
  return [b.balance, b.held, b.available];
}

async function debitRows(db: SqlSession, userId: string) {
  return await db.query<{
    id: string;
    reference: string;
    idempotency_key: string;
    payment_log_id: string | null;
    refund_id: string | null;
    amount: number;
    balance_after: number;
    reason: string | null;
    request_fingerprint: string | null;
  }>(
    `select id, reference, idempotency_key, payment_log_id, refund_id, amount::integer as amount,
            balance_after::integer as balance_after, reason, request_fingerprint
       from public.sms_transactions
      where user_id = $1 and type = 'debit'
      order by created_at, id`,
    [userId],
  );
}

Deno.test("debit_wallet", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step(
      "a debit takes credit from the balance and writes a `debit` ledger entry with its reason",
      async () => {
        const user = newUserId();
        await creditedPayment(db, { userId: user, amount: 5000 });
        const key = "sms-batch-42";
        const result = await debit(db, user, 1200, {
          p_reason: "sms: batch 42 (12 messages)",
          p_idempotency_key: key,
          p_fingerprint: "fp-42",
        });
        assert.equal(result.replayed, false);
        const d = result.debit;
        assert.deepEqual(Object.keys(d).sort(), [
          "amount",
          "balance_after",
          "created_at",
          "currency",
          "id",
          "reason",
          "reference",
          "user_id",
        ]);
        assert.deepEqual([d.user_id, d.amount, d.currency, d.reason, d.balance_after], [
          user,
          1200,
          "NGN",
          "sms: batch 42 (12 messages)",
          3800,
        ]);
        assert.match(d.reference, /^debit-[0-9a-f]{32}$/);
        assert.match(d.created_at, ISO);
        assert.deepEqual(await money(db, user), [3800, 0, 3800]);
        assert.deepEqual(await debitRows(db, user), [{
          id: d.id,
          reference: d.reference,
          idempotency_key: `debit:${user}:${key}`,
          payment_log_id: null,
          refund_id: null,
          amount: 1200,
          balance_after: 3800,
          reason: "sms: batch 42 (12 messages)",
          request_fingerprint: "fp-42",
        }]);
        const page = await wallet(db, user);
        assert.deepEqual(page.items.map((i) => [i.id, i.type, i.amount, i.payment_reference]).at(0), [
          d.id,
          "debit",
          1200,
          null,
        ]);
        assert.deepEqual(page.items.map((i) => i.type), ["debit", "credit"]);

        const second = await debit(db, user, 800);
        assert.equal(second.debit.balance_after, 3000);
        assert.deepEqual(await money(db, user), [3000, 0, 3000]);
        await assertLedgerHolds(db);
      },
    );

    await t.step("a debit of more than the spendable balance is PM006 and writes nothing", async () => {
      const user = newUserId();
      await creditedPayment(db, { userId: user, amount: 2000 });
      const before = await moneyOf(db, user);
      await assertSqlState(debit(db, user, 2001), "PM006");
      assert.deepEqual(await moneyOf(db, user), before);
      // Exactly the balance can be spent; then nothing more.
      assert.equal((await debit(db, user, 2000)).debit.balance_after, 0);
      const empty = await moneyOf(db, user);
      await assertSqlState(debit(db, user, 1), "PM006");
      assert.deepEqual(await moneyOf(db, user), empty);
      // No wallet in that currency, or no wallet at all: nothing to spend, none created.
      await assertSqlState(debit(db, user, 1, { p_currency: "GHS" }), "PM006");
      const stranger = newUserId();
      await assertSqlState(debit(db, stranger, 1), "PM006");
      assert.deepEqual(await moneyOf(db, stranger), {
        wallets: [],
        payments: [],
        refunds: [],
        ledger: [],
        refund_requests: [],
      });
      assert.deepEqual(await moneyOf(db, user), empty);
      await assertLedgerHolds(db);
    });

    await t.step("a debit cannot spend credit held for a refund in flight (PM006); what is not held can", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const refund = (await beginRefund(db, p.reference, 3000)).refund;
      assert.deepEqual(await money(db, user), [5000, 3000, 2000]);
      const before = await moneyOf(db, user);
      await assertSqlState(debit(db, user, 2001), "PM006");
      await assertSqlState(debit(db, user, 5000), "PM006");
      assert.deepEqual(await moneyOf(db, user), before);

      assert.equal((await debit(db, user, 2000)).debit.balance_after, 3000);
      assert.deepEqual(await money(db, user), [3000, 3000, 0]);
      await assertSqlState(debit(db, user, 1), "PM006");
      await assertLedgerHolds(db);

      // The held credit is there when the provider pays the refund out.
      await rpc(db, "apply_refund_status", {
        p_refund_id: refund.id,
        p_provider_refund_id: null,
        p_status: "processed",
      });
      assert.deepEqual(await money(db, user), [0, 0, 0]);
      await assertLedgerHolds(db);
    });

    await t.step("a failed refund gives the held credit back to spend", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const refund = (await beginRefund(db, p.reference, 5000)).refund;
      await assertSqlState(debit(db, user, 1), "PM006");
      await rpc(db, "apply_refund_status", { p_refund_id: refund.id, p_provider_refund_id: null, p_status: "failed" });
      assert.deepEqual(await money(db, user), [5000, 0, 5000]);
      assert.equal((await debit(db, user, 5000)).debit.balance_after, 0);
      await assertLedgerHolds(db);
    });

    await t.step("the same key is replayed: the first debit's answer, no second debit", async () => {
      const user = newUserId();
      await creditedPayment(db, { userId: user, amount: 5000 });
      const args = { p_idempotency_key: "replay-me", p_fingerprint: "fp-r", p_reason: "sms: otp" };
      const first = await debit(db, user, 700, args);
      assert.equal(first.replayed, false);
      const replay = await debit(db, user, 700, args);
      assert.equal(replay.replayed, true);
      assert.deepEqual(replay.debit, first.debit);
      assert.deepEqual(await money(db, user), [4300, 0, 4300]);
      assert.equal((await debitRows(db, user)).length, 1);

      // Answered even when the balance could no longer pay it.
      await debit(db, user, 4300);
      const spent = await moneyOf(db, user);
      const late = await debit(db, user, 700, args);
      assert.equal(late.replayed, true);
      assert.deepEqual(late.debit, first.debit);
      assert.deepEqual(await moneyOf(db, user), spent);
      await assertLedgerHolds(db);
    });

    await t.step("the same key with another fingerprint is PM009 and writes nothing; keys are per user", async () => {
      const user = newUserId();
      await creditedPayment(db, { userId: user, amount: 5000 });
      await debit(db, user, 700, { p_idempotency_key: "shared-key", p_fingerprint: "fp-1" });
      const before = await moneyOf(db, user);
      await assertSqlState(debit(db, user, 700, { p_idempotency_key: "shared-key", p_fingerprint: "fp-2" }), "PM009");
      await assertSqlState(debit(db, user, 900, { p_idempotency_key: "shared-key", p_fingerprint: "fp-2" }), "PM009");
      assert.deepEqual(await moneyOf(db, user), before);

      // Another user's identical key is another debit, not a replay.
      const other = newUserId();
      await creditedPayment(db, { userId: other, amount: 1000 });
      const theirs = await debit(db, other, 700, { p_idempotency_key: "shared-key", p_fingerprint: "fp-2" });
      assert.equal(theirs.replayed, false);
      assert.equal(theirs.debit.user_id, other);
      assert.deepEqual(await money(db, other), [300, 0, 300]);
      assert.deepEqual(await moneyOf(db, user), before);
      await assertLedgerHolds(db);
    });

    await t.step("invalid debit arguments are PM008 and write nothing", async () => {
      const user = newUserId();
      await creditedPayment(db, { userId: user, amount: 5000 });
      const before = await moneyOf(db, user);
      for (
        const [amount, args] of [
          [0, {}],
          [-1, {}],
          [null, {}],
          [100, { p_currency: "ngn" }],
          [100, { p_currency: null }],
          [100, { p_user_id: null }],
          [100, { p_reason: "" }],
          [100, { p_reason: null }],
          [100, { p_reason: "x".repeat(501) }],
          [100, { p_idempotency_key: "" }],
          [100, { p_idempotency_key: null }],
          [100, { p_idempotency_key: "k".repeat(256) }],
          [100, { p_fingerprint: null }],
        ] as [number | null, Record<string, unknown>][]
      ) {
        await assertSqlState(debit(db, user, amount, args), "PM008");
      }
      assert.deepEqual(await moneyOf(db, user), before);
      await assertLedgerHolds(db);
    });

    await t.step("get_wallet shows each currency's balance, held and available (balance − held)", async () => {
      const user = newUserId();
      const ngn = await creditedPayment(db, { userId: user, amount: 5000 });
      await creditedPayment(db, { userId: user, amount: 800, currency: "GHS" });
      await beginRefund(db, ngn.reference, 1200);
      await debit(db, user, 300);
      await debit(db, user, 100, { p_currency: "GHS" });
      const page = await wallet(db, user);
      assert.deepEqual(page.balances.map((b) => [b.currency, b.balance, b.held, b.available]), [
        ["GHS", 700, 0, 700],
        ["NGN", 4700, 1200, 3500],
      ]);
      for (const b of page.balances) assert.match(b.updated_at, ISO);
      assert.deepEqual(page.items.map((i) => i.type), ["debit", "debit", "credit", "credit"]);
      await assertLedgerHolds(db);
    });
  } finally {
    await close();
  }
});

const RACE_SUITE = "debit_wallet when sessions race";
const RACERS = ["debit-race-0", "debit-race-1", "debit-race-2", "debit-race-3", "debit-race-4"] as const;
const ignoreRace = await ignoreWithout(["postgres"], RACE_SUITE, "sessions must race, and PGlite has one connection");

function settled<T>(results: PromiseSettledResult<T>[]): { values: T[]; codes: string[] } {
  const values: T[] = [];
  const codes: string[] = [];
  for (const r of results) {
    if (r.status === "fulfilled") values.push(r.value);
    else codes.push(String((r.reason as { code?: string }).code ?? r.reason));
  }
  return { values, codes };
}

const lockWallet = (userId: string) => ({
  sql: "select 1 from public.wallets where user_id = $1 and currency = 'NGN' for update",
  params: [userId],
});

Deno.test(RACE_SUITE, { ignore: ignoreRace }, async (t) => {
  const database = await createTestDatabase();
  const { db, close } = database;
  const sessions: SqlClient[] = RACERS.map((name) => database.connect({ max: 1, applicationName: name }));
  const blocker = database.connect({ max: 1, applicationName: "debit-race-blocker" });
  try {
    await t.step("5 sessions overlapping on one key debit once (10 rounds)", async () => {
      for (let round = 0; round < 10; round++) {
        const user = newUserId();
        await creditedPayment(db, { userId: user, amount: 5000 });
        const key = `race-${round}`;
        const { values, codes } = settled(
          await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session) => () =>
              debit(session, user, 1500, { p_idempotency_key: key, p_fingerprint: "fp-race" })
            ),
            lockWallet(user),
          ),
        );
        assert.deepEqual(codes, [], `round ${round}`);
        assert.deepEqual(values.map((v) => v.replayed).sort(), [false, true, true, true, true], `round ${round}`);
        assert.equal(new Set(values.map((v) => v.debit.id)).size, 1, `round ${round}: one debit answered`);
        assert.equal((await debitRows(db, user)).length, 1, `round ${round}: one ledger entry`);
        assert.deepEqual(await money(db, user), [3500, 0, 3500], `round ${round}`);
      }
      await assertLedgerHolds(db);
    });

    await t.step("5 sessions overlapping with different keys never overdraw (10 rounds)", async () => {
      for (let round = 0; round < 10; round++) {
        const user = newUserId();
        await creditedPayment(db, { userId: user, amount: 5000 });
        const { values, codes } = settled(
          await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session) => () => debit(session, user, 1500)),
            lockWallet(user),
          ),
        );
        assert.equal(values.length, 3, `round ${round}: three debits fit`);
        assert.deepEqual(codes, ["PM006", "PM006"], `round ${round}`);
        // Each debit saw the one before it.
        assert.deepEqual(values.map((v) => v.debit.balance_after).sort((a, b) => a - b), [500, 2000, 3500]);
        assert.deepEqual(await money(db, user), [500, 0, 500], `round ${round}`);
      }
      await assertLedgerHolds(db);
    });

    await t.step(
      "begin_refund and debit_wallet overlapping on the same credit: exactly one gets it (10 rounds)",
      async () => {
        const [refunder, debiter] = sessions;
        for (let round = 0; round < 10; round++) {
          const user = newUserId();
          const p = await creditedPayment(db, { userId: user, amount: 5000 });
          const [refund, spent] = await raceBehindLock<unknown>(
            db,
            blocker,
            RACERS,
            [() => beginRefund(refunder!, p.reference, 5000), () => debit(debiter!, user, 5000)],
            lockWallet(user),
          );
          const winners = [refund!, spent!].filter((r) => r.status === "fulfilled").length;
          assert.equal(winners, 1, `round ${round}: one of them`);
          const loser = [refund!, spent!].find((r) => r.status === "rejected") as PromiseRejectedResult;
          assert.equal((loser.reason as { code?: string }).code, "PM006", `round ${round}`);
          assert.deepEqual(
            await money(db, user),
            refund!.status === "fulfilled" ? [5000, 5000, 0] : [0, 0, 0],
            `round ${round}`,
          );
        }
        await assertLedgerHolds(db);
      },
    );
  } finally {
    for (const session of sessions) await session.close();
    await blocker.close();
    await close();
  }
});
