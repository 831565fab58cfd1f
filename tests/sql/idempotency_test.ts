import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlSession } from "../../src/db/sql_client.ts";
import type { Payment } from "../../src/payments/payment_store.ts";
import { assertSqlState, newUserId, paymentOf, rpc, waitForLockWaiters } from "./sql_test_kit.ts";

type Begin =
  | { outcome: "created" | "resumed"; payment: Payment }
  | { outcome: "replay"; status: number; body: unknown }
  | { outcome: "in_progress"; retry_after_seconds: number }
  | { outcome: "mismatch" };

interface KeyRow {
  locked_at: Date | null;
  recovery_point: string;
  payment_log_id: string | null;
  response_status: number | null;
  request_fingerprint: string;
  expires_at: Date;
  created_at: Date;
}

function begin(
  db: SqlSession,
  userId: string,
  key: string,
  { fingerprint = "fp-1", amount = 5000, lockTimeout = 60 }: {
    fingerprint?: string;
    amount?: number;
    lockTimeout?: number;
  } = {},
): Promise<Begin> {
  return rpc<Begin>(db, "begin_payment_request", {
    p_user_id: userId,
    p_idempotency_key: key,
    p_fingerprint: fingerprint,
    p_method: "POST",
    p_path: "/v1/payments",
    p_amount: amount,
    p_currency: "NGN",
    p_email: "buyer@example.com",
    p_metadata: { plan: "sms-1000" },
    p_lock_timeout_seconds: lockTimeout,
  });
}

function complete(
  db: SqlSession,
  userId: string,
  key: string,
  status: number,
  body: unknown,
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: unknown }> {
  return rpc(db, "complete_payment_request", {
    p_user_id: userId,
    p_idempotency_key: key,
    p_response_status: status,
    p_response_body: body,
    ...extra,
  });
}

async function keyRow(db: SqlSession, userId: string, key: string): Promise<KeyRow> {
  const [row] = await db.query<KeyRow & Record<string, unknown>>(
    `select locked_at, recovery_point, payment_log_id, response_status, request_fingerprint, expires_at, created_at
       from public.idempotency_keys where user_id = $1 and key = $2`,
    [userId, key],
  );
  assert.ok(row, `idempotency record ${key} exists`);
  return row;
}

function created(result: Begin): Payment {
  assert.ok(result.outcome === "created" || result.outcome === "resumed", `got ${result.outcome}`);
  return result.payment;
}

const CONCURRENT_FIRST_REQUESTS = "two concurrent first requests with one key: one creates, the other is in_progress";
const ignoreConcurrent = await ignoreWithout(
  ["postgres"],
  CONCURRENT_FIRST_REQUESTS,
  "two sessions must race, and PGlite has one connection",
);

Deno.test("idempotent payment initialization (begin / complete / release)", async (t) => {
  const database = await createTestDatabase();
  const { db, close } = database;
  try {
    await t.step("the first request creates the payment and locks the key at payment_created", async () => {
      const user = newUserId();
      const result = await begin(db, user, "k-first");
      assert.equal(result.outcome, "created");
      const payment = created(result);
      assert.equal(payment.state, "pending");
      assert.equal(payment.amount, 5000);
      assert.equal(payment.currency, "NGN");
      assert.equal(payment.user_id, user);
      assert.equal(payment.provider, "paystack");
      assert.deepEqual(payment.metadata, { plan: "sms-1000" });
      const row = await keyRow(db, user, "k-first");
      assert.equal(row.recovery_point, "payment_created");
      assert.equal(row.payment_log_id, payment.id);
      assert.ok(row.locked_at);
      assert.ok(row.expires_at.getTime() - row.created_at.getTime() >= 24 * 3600 * 1000 - 1000);
    });

    await t.step("a retry while the first request runs is in_progress, with a retry-after", async () => {
      const user = newUserId();
      await begin(db, user, "k-busy");
      const again = await begin(db, user, "k-busy");
      assert.equal(again.outcome, "in_progress");
      assert.ok(again.outcome === "in_progress" && again.retry_after_seconds >= 1 && again.retry_after_seconds <= 60);
    });

    await t.step("the same key with another payload is a mismatch and changes nothing", async () => {
      const user = newUserId();
      const first = created(await begin(db, user, "k-mismatch"));
      await complete(db, user, "k-mismatch", 201, { reference: first.reference });
      const before = await keyRow(db, user, "k-mismatch");
      assert.deepEqual(await begin(db, user, "k-mismatch", { fingerprint: "fp-2", amount: 9999 }), {
        outcome: "mismatch",
      });
      assert.deepEqual(await keyRow(db, user, "k-mismatch"), before);
    });

    await t.step("complete stores provider data and the response; retries replay it", async () => {
      const user = newUserId();
      const payment = created(await begin(db, user, "k-done"));
      const body = { reference: payment.reference, authorization_url: "https://checkout.test/abc" };
      const stored = await complete(db, user, "k-done", 201, body, {
        p_authorization_url: "https://checkout.test/abc",
        p_access_code: "abc",
      });
      assert.deepEqual(stored, { status: 201, body });
      const row = await keyRow(db, user, "k-done");
      assert.equal(row.recovery_point, "finished");
      assert.equal(row.locked_at, null);
      const after = await paymentOf(db, payment.reference);
      assert.equal(after.authorization_url, "https://checkout.test/abc");
      assert.equal(after.access_code, "abc");
      assert.equal(after.state, "pending");
      assert.deepEqual(await begin(db, user, "k-done"), { outcome: "replay", status: 201, body });
    });

    await t.step("the first completion wins", async () => {
      const user = newUserId();
      created(await begin(db, user, "k-twice"));
      await complete(db, user, "k-twice", 201, { n: 1 });
      assert.deepEqual(await complete(db, user, "k-twice", 500, { n: 2 }), { status: 201, body: { n: 1 } });
      assert.deepEqual(await begin(db, user, "k-twice"), { outcome: "replay", status: 201, body: { n: 1 } });
    });

    await t.step("a definite provider refusal fails the payment and is replayed", async () => {
      const user = newUserId();
      const payment = created(await begin(db, user, "k-refused"));
      await complete(db, user, "k-refused", 422, { code: "provider_rejected" }, {
        p_failure_reason: "provider_rejected: Invalid email",
      });
      const after = await paymentOf(db, payment.reference);
      assert.equal(after.state, "failed");
      assert.equal(after.failure_reason, "provider_rejected: Invalid email");
      const last = after.state_transitions.at(-1)!;
      assert.deepEqual([last.from, last.to, last.actor], ["pending", "failed", "provider"]);
      assert.deepEqual(await begin(db, user, "k-refused"), {
        outcome: "replay",
        status: 422,
        body: { code: "provider_rejected" },
      });
    });

    await t.step("release keeps the recovery point: the retry resumes with the same payment", async () => {
      const user = newUserId();
      const payment = created(await begin(db, user, "k-release"));
      await rpc(db, "release_payment_request", { p_user_id: user, p_idempotency_key: "k-release" });
      const row = await keyRow(db, user, "k-release");
      assert.equal(row.locked_at, null);
      assert.equal(row.recovery_point, "payment_created");
      const resumed = await begin(db, user, "k-release");
      assert.equal(resumed.outcome, "resumed");
      assert.equal(created(resumed).reference, payment.reference);
      const [count] = await db.query<{ n: string }>(
        "select count(*) as n from public.payment_logs where user_id = $1",
        [
          user,
        ],
      );
      assert.equal(count?.n, "1");
    });

    await t.step("a lock older than the timeout is taken over (continues from payment_created)", async () => {
      const user = newUserId();
      const payment = created(await begin(db, user, "k-stale", { lockTimeout: 30 }));
      await db.query(
        "update public.idempotency_keys set locked_at = now() - interval '31 seconds' where user_id = $1 and key = $2",
        [user, "k-stale"],
      );
      const takeover = await begin(db, user, "k-stale", { lockTimeout: 30 });
      assert.equal(takeover.outcome, "resumed");
      assert.equal(created(takeover).id, payment.id);
      assert.equal((await begin(db, user, "k-stale", { lockTimeout: 30 })).outcome, "in_progress");
    });

    await t.step("an expired key is a brand-new request: new payment, old one detached", async () => {
      const user = newUserId();
      const old = created(await begin(db, user, "k-expired"));
      await complete(db, user, "k-expired", 201, { reference: old.reference });
      await db.query(
        "update public.idempotency_keys set expires_at = now() - interval '1 second' where user_id = $1 and key = $2",
        [user, "k-expired"],
      );
      const fresh = await begin(db, user, "k-expired", { fingerprint: "fp-new", amount: 700 });
      assert.equal(fresh.outcome, "created");
      const payment = created(fresh);
      assert.notEqual(payment.reference, old.reference);
      assert.equal(payment.amount, 700);
      const row = await keyRow(db, user, "k-expired");
      assert.equal(row.payment_log_id, payment.id);
      assert.equal(row.request_fingerprint, "fp-new");
      assert.equal(row.response_status, null);
      assert.ok(row.expires_at.getTime() > Date.now());
      assert.equal((await paymentOf(db, old.reference)).state, "pending");
    });

    await t.step("keys are scoped per user", async () => {
      const a = created(await begin(db, newUserId(), "k-shared"));
      const b = created(await begin(db, newUserId(), "k-shared", { fingerprint: "other" }));
      assert.notEqual(a.id, b.id);
    });

    await t.step({
      name: CONCURRENT_FIRST_REQUESTS,
      ignore: ignoreConcurrent,
      fn: async () => {
        const one = database.connect({ max: 1 });
        const two = database.connect({ max: 1, applicationName: "idempotency-race-two" });
        try {
          for (let round = 0; round < 10; round++) {
            const user = newUserId();
            // The first request's transaction is still open when the second arrives, and the second is seen
            // waiting on it in pg_stat_activity before the first commits: the two provably overlap.
            const [first, second] = await one.transaction(async (tx) => {
              const first = await begin(tx, user, "k-race");
              const second = begin(two, user, "k-race");
              second.catch(() => {}); // awaited below; no unhandled rejection meanwhile
              await waitForLockWaiters(db, ["idempotency-race-two"], 1);
              return [first, second] as const;
            });
            const outcomes = [first.outcome, (await second).outcome].sort();
            assert.deepEqual(outcomes, ["created", "in_progress"]);
          }
        } finally {
          await one.close();
          await two.close();
        }
      },
    });

    await t.step("invalid arguments are refused with PM008", async () => {
      const user = newUserId();
      await assertSqlState(begin(db, user, "k-bad", { amount: 0 }), "PM008");
      await assertSqlState(begin(db, user, ""), "PM008");
      await assertSqlState(begin(db, user, "x".repeat(256)), "PM008");
      await assertSqlState(
        rpc(db, "begin_payment_request", {
          p_user_id: user,
          p_idempotency_key: "k-bad-currency",
          p_fingerprint: "fp",
          p_method: "POST",
          p_path: "/v1/payments",
          p_amount: 100,
          p_currency: "ngn",
        }),
        "PM008",
      );
      await assertSqlState(complete(db, user, "k-never-begun", 201, {}), "PM008");
    });

    await t.step("purge deletes expired unlocked and stale-locked records only", async () => {
      const user = newUserId();
      for (const key of ["p-expired", "p-expired-locked", "p-expired-stale", "p-live"]) await begin(db, user, key);
      await db.query(
        `update public.idempotency_keys
            set expires_at = now() - interval '1 minute',
                locked_at = case key when 'p-expired' then null
                                     when 'p-expired-locked' then now()
                                     else now() - interval '2 hours' end
          where user_id = $1 and key in ('p-expired', 'p-expired-locked', 'p-expired-stale')`,
        [user],
      );
      const purged = await rpc<number>(db, "purge_idempotency_keys");
      assert.ok(purged >= 2);
      const left = await db.query<{ key: string }>(
        "select key from public.idempotency_keys where user_id = $1 order by key",
        [user],
      );
      assert.deepEqual(left.map((r) => r.key), ["p-expired-locked", "p-live"]);
    });
  } finally {
    await close();
  }
});
