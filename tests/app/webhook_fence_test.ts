/**
 * The webhook under fences the database refuses (run_under_payment_lock.ts):
 * the first `stale_fence` raises the lock's fence counter past the database's
 * highest fence and retries once; a second one answers 200 `deferred` and
 * leaves the event for reconciliation. A fake lock service makes the fences
 * misbehave on purpose, which neither Redis nor the in-memory lock does.
 */
import assert from "node:assert/strict";
import type { LockHandle, LockService } from "../../src/lock/lock_service.ts";
import { expectJson } from "../support/http_helpers.ts";
import { transaction } from "../support/scripted_provider.ts";
import { appDatabase, createTestApp, type InitializedPayment, initializePayment } from "./app_harness.ts";

const database = await appDatabase();

/** What the fake lock service saw. */
interface FenceLog {
  /** Fence of each acquisition, in order. */
  acquired: number[];
  /** Floors passed to advanceFence, in order. */
  advanced: number[];
  /** Keys released, in order. */
  released: string[];
}

/**
 * A lock that is always free and hands out fences from `next(floor)`, where
 * `floor` is the highest value passed to advanceFence so far (0 before).
 */
function fakeLocks(next: (floor: number) => number): LockService & { log: FenceLog } {
  const log: FenceLog = { acquired: [], advanced: [], released: [] };
  let floor = 0;
  return {
    log,
    acquire(key: string): Promise<LockHandle> {
      const fence = next(floor);
      log.acquired.push(fence);
      return Promise.resolve({
        key,
        fence,
        degraded: false,
        extend: () => Promise.resolve(true),
        release: () => {
          log.released.push(key);
          return Promise.resolve(true);
        },
      });
    },
    advanceFence(value: number): Promise<void> {
      log.advanced.push(value);
      floor = Math.max(floor, value);
      return Promise.resolve();
    },
    status: () => Promise.resolve({ ok: true }),
  };
}

/** A signed `charge.success` for the payment. */
function chargeSuccess(payment: InitializedPayment): string {
  return JSON.stringify({
    event: "charge.success",
    data: {
      id: Math.floor(Math.random() * 1e9),
      reference: payment.reference,
      amount: payment.amount,
      currency: "NGN",
      status: "success",
    },
  });
}

/** Whether the payment's webhook event was marked processed (null: no event). */
async function eventProcessed(reference: string): Promise<boolean | null> {
  const [row] = await database.db.query<{ processed: boolean }>(
    "select processed_at is not null as processed from public.webhook_events where reference = $1",
    [reference],
  );
  return row?.processed ?? null;
}

/** Credits in the ledger for the payment. */
async function credits(reference: string): Promise<number> {
  const [row] = await database.db.query<{ n: string }>(
    `select count(*)::int8 as n from public.sms_transactions t
       join public.payment_logs p on p.id = t.payment_log_id
      where p.reference = $1 and t.type = 'credit'`,
    [reference],
  );
  return Number(row?.n ?? 0);
}

/** A payment the database has seen under fence 1000 (a holder from before the counter was lost). */
async function fencedPayment(): Promise<InitializedPayment> {
  const payment = await initializePayment(createTestApp(database));
  await database.store.markProcessing(payment.reference, { fence: 1000, actor: "reconcile" });
  return payment;
}

Deno.test("webhook credit under stale fences", async (t) => {
  await t.step(
    "stale_fence twice (the counter stays behind) → 200 deferred, event kept for reconciliation",
    async () => {
      const payment = await fencedPayment();
      // Fences go backwards whatever advanceFence says: every attempt stays below 1000.
      let fence = 20;
      const locks = fakeLocks(() => fence--);
      const app = createTestApp(database, { locks });
      const res = await app.postWebhook(chargeSuccess(payment));
      assert.deepEqual(await expectJson(res, 200), { received: true, outcome: "deferred" });
      assert.deepEqual(locks.log.acquired, [20, 19], "one retry, no more");
      assert.equal(locks.log.advanced.length, 1);
      assert.ok(locks.log.advanced[0]! >= 1000, `raised to the database's max fence, got ${locks.log.advanced[0]}`);
      assert.equal(locks.log.released.length, 2, "each attempt released its lock");
      assert.deepEqual(app.provider.calls.verify, [], "the provider is never asked under a stale fence");
      assert.equal(await eventProcessed(payment.reference), false);
      assert.equal(await credits(payment.reference), 0);
      assert.equal(app.metrics.get("lock_fence_raised_total", { actor: "webhook" }), 1);
    },
  );

  await t.step("stale_fence once (the counter was lost) → the counter is raised and the retry credits", async () => {
    const payment = await fencedPayment();
    // A counter that starts over at 1 but honours advanceFence, like Redis after a FLUSHDB.
    let counter = 0;
    const locks = fakeLocks((floor) => (counter = Math.max(counter, floor) + 1));
    const app = createTestApp(database, { locks });
    app.provider.script.verify.push((reference) => transaction(reference, payment.amount));
    const res = await app.postWebhook(chargeSuccess(payment));
    assert.deepEqual(await expectJson(res, 200), { received: true, outcome: "credited" });
    assert.equal(locks.log.acquired.length, 2);
    assert.ok(locks.log.acquired[1]! > 1000, `the retry's fence ${locks.log.acquired[1]} is above the database's`);
    assert.equal(await eventProcessed(payment.reference), true);
    assert.equal(await credits(payment.reference), 1);
  });
});
