/**
 * Exactly-once credit under real concurrency: two Postgres sessions (two
 * connections) call the credit functions on the same payment at the same
 * time. Half of the rounds are gated: a third session holds the contended row
 * lock until both racers are seen waiting on it in pg_stat_activity, so the
 * two transactions provably overlap instead of merely being issued together.
 */
import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";
import { type SqlClient, SqlError } from "../../src/db/sql_client.ts";
import type { CreditResult } from "../../src/payments/payment_store.ts";
import { newPayment, newUserId, raceBehindLock, rpc, rpcRows } from "./sql_test_kit.ts";

const ROUNDS = 40;
const RACERS = ["race-a", "race-b"] as const;

/**
 * Runs the racers at once; with `lock`, gated by {@linkcode raceBehindLock}
 * (every racer provably waits on that row lock before any goes on).
 */
function race<T>(
  db: SqlClient,
  blocker: SqlClient,
  racers: (() => Promise<T>)[],
  lock?: { sql: string; params: unknown[] },
): Promise<PromiseSettledResult<T>[]> {
  if (!lock) return Promise.allSettled(racers.map((run) => run()));
  return raceBehindLock(db, blocker, RACERS, racers, lock);
}

function value<T>(result: PromiseSettledResult<T>): T {
  if (result.status === "rejected") throw result.reason;
  return result.value;
}

const lockPayment = (reference: string) => ({
  sql: "select 1 from public.payment_logs where reference = $1 for update",
  params: [reference],
});

const SUITE = "credit_user credits exactly once when sessions race";
const ignore = await ignoreWithout(["postgres"], SUITE, "sessions must race, and PGlite has one connection");

Deno.test(SUITE, { ignore }, async (t) => {
  const database = await createTestDatabase();
  const { db, close } = database;
  const a = database.connect({ max: 1, applicationName: RACERS[0] });
  const b = database.connect({ max: 1, applicationName: RACERS[1] });
  const blocker = database.connect({ max: 1, applicationName: "race-blocker" });
  try {
    await t.step(
      `two sessions racing credit_user on one payment: one credit per payment (${ROUNDS} rounds)`,
      async () => {
        const user = newUserId();
        const amount = 7350;
        for (let round = 0; round < ROUNDS; round++) {
          const p = await newPayment(db, { userId: user, amount });
          const credit = (session: SqlClient, actor: string) => () =>
            rpc<CreditResult>(session, "credit_user", {
              p_reference: p.reference,
              p_amount: amount,
              p_currency: "NGN",
              p_actor: actor,
            });
          const results = await race(
            db,
            blocker,
            [credit(a, "verify"), credit(b, "webhook")],
            round % 2 === 0 ? lockPayment(p.reference) : undefined,
          );
          const outcomes = results.map((r) => value(r).outcome).sort();
          assert.deepEqual(outcomes, ["already_credited", "credited"], `round ${round}`);
        }
        const [ledger] = await db.query<{ n: string; total: string }>(
          "select count(*) as n, sum(amount) as total from public.sms_transactions where user_id = $1",
          [user],
        );
        assert.equal(ledger?.n, String(ROUNDS));
        assert.equal(ledger?.total, String(ROUNDS * amount));
        const [w] = await db.query<{ balance: string }>("select balance from public.wallets where user_id = $1", [
          user,
        ]);
        assert.equal(w?.balance, String(ROUNDS * amount));
      },
    );

    await t.step("a webhook credit (with its event) racing a verify credit: one credit, event processed", async () => {
      for (let round = 0; round < 10; round++) {
        const p = await newPayment(db, { amount: 900 });
        const event = await rpc<{ event_id: string }>(db, "record_webhook_event", {
          p_provider: "paystack",
          p_event_key: `evt-${p.reference}`,
          p_event_type: "charge.success",
          p_reference: p.reference,
          p_payload: {},
        });
        const results = await race(db, blocker, [
          () =>
            rpc<CreditResult>(a, "credit_user", {
              p_reference: p.reference,
              p_amount: 900,
              p_currency: "NGN",
              p_webhook_event_id: event.event_id,
            }),
          () => rpc<CreditResult>(b, "credit_user", { p_reference: p.reference, p_amount: 900, p_currency: "NGN" }),
        ], lockPayment(p.reference));
        assert.deepEqual(results.map((r) => value(r).outcome).sort(), ["already_credited", "credited"]);
        const [row] = await db.query<{ processed: boolean }>(
          "select processed_at is not null as processed from public.webhook_events where id = $1",
          [event.event_id],
        );
        assert.equal(row?.processed, true);
      }
    });

    await t.step(
      "two lock holders with different fences: exactly one credit, the stale one refused or idle",
      async () => {
        for (let round = 0; round < 10; round++) {
          const p = await newPayment(db, { amount: 400 });
          const credit = (session: SqlClient, fence: number) => () =>
            rpc<CreditResult>(session, "credit_user", {
              p_reference: p.reference,
              p_amount: 400,
              p_currency: "NGN",
              p_fence: fence,
            });
          const [older, newer] = await race(db, blocker, [credit(a, 1), credit(b, 2)], lockPayment(p.reference));
          if (older!.status === "rejected") {
            // The newer holder went first: the older one is fenced out.
            assert.ok(older!.reason instanceof SqlError && older!.reason.code === "PM003");
            assert.equal(value(newer!).outcome, "credited");
          } else {
            assert.equal(value(older!).outcome, "credited");
            assert.equal(value(newer!).outcome, "already_credited");
          }
          const [row] = await db.query<{ n: string }>(
            "select count(*) as n from public.sms_transactions where payment_log_id = $1",
            [p.id],
          );
          assert.equal(row?.n, "1");
        }
      },
    );

    await t.step(
      "credit_user racing fail_payment: the confirmed success is credited once, whichever commits first",
      async () => {
        for (let round = 0; round < 10; round++) {
          const p = await newPayment(db, { amount: 300 });
          const [credited, failed] = await race<{ outcome?: string; late_success?: boolean; changed?: boolean }>(
            db,
            blocker,
            [
              () => rpc<CreditResult>(a, "credit_user", { p_reference: p.reference, p_amount: 300, p_currency: "NGN" }),
              () => rpc<{ changed: boolean }>(b, "fail_payment", { p_reference: p.reference, p_reason: "abandoned" }),
            ],
            round % 2 === 0 ? lockPayment(p.reference) : undefined,
          );
          const outcome = value(credited!).outcome;
          const changed = value(failed!).changed;
          // Failed first → the success is a late success; credited first → the failure changes nothing.
          assert.equal(outcome, "credited", `round ${round}`);
          assert.equal(value(credited!).late_success, changed, `round ${round}: late_success follows the failure`);
          const [row] = await db.query<{ n: string; state: string }>(
            `select count(t.id) as n, p.state from public.payment_logs p
             left join public.sms_transactions t on t.payment_log_id = p.id
            where p.id = $1 group by p.state`,
            [p.id],
          );
          assert.deepEqual(row, { n: "1", state: "completed" });
        }
      },
    );

    await t.step("credits of two payments of one user racing on the wallet row lose no update", async () => {
      const user = newUserId();
      for (let round = 0; round < 10; round++) {
        const p1 = await newPayment(db, { userId: user, amount: 111 });
        const p2 = await newPayment(db, { userId: user, amount: 222 });
        if (round === 0) {
          // Create the wallet row so the blocker has something to hold.
          await rpc(db, "credit_user", { p_reference: p1.reference, p_amount: 111, p_currency: "NGN" });
          continue;
        }
        const results = await race(db, blocker, [
          () => rpc<CreditResult>(a, "credit_user", { p_reference: p1.reference, p_amount: 111, p_currency: "NGN" }),
          () => rpc<CreditResult>(b, "credit_user", { p_reference: p2.reference, p_amount: 222, p_currency: "NGN" }),
        ], {
          sql: "select 1 from public.wallets where user_id = $1 and currency = 'NGN' for update",
          params: [user],
        });
        assert.deepEqual(results.map((r) => value(r).outcome), ["credited", "credited"]);
      }
      const [w] = await db.query<{ balance: string }>("select balance from public.wallets where user_id = $1", [user]);
      assert.equal(w?.balance, String(111 + 9 * (111 + 222)));
      const balances = await db.query<{ balance_after: string }>(
        "select balance_after from public.sms_transactions where user_id = $1 order by balance_after",
        [user],
      );
      // Every balance_after is distinct: each credit saw the previous one's balance.
      assert.equal(new Set(balances.map((r) => r.balance_after)).size, balances.length);
    });

    await t.step("after all the races the ledger invariants hold", async () => {
      assert.deepEqual(await rpcRows(db, "check_ledger_invariants"), []);
    });
  } finally {
    await a.close();
    await b.close();
    await blocker.close();
    await close();
  }
});
