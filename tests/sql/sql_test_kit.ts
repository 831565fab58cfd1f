/**
 * Helpers of the SQL-level tests: call an RPC function by name with named
 * arguments (typed from the catalog, as PostgREST would), assert a SQLSTATE,
 * create payments, and run a block in a transaction that is always rolled
 * back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type SqlClient, SqlError, type SqlSession } from "../../src/db/sql_client.ts";
import type { Payment } from "../../src/payments/payment_store.ts";

const _argTypes = new Map<string, Map<string, string>>();

async function _typesOf(db: SqlSession, fn: string): Promise<Map<string, string>> {
  const cached = _argTypes.get(fn);
  if (cached) return cached;
  const rows = await db.query<{ name: string; type: string }>(
    `select a.name, a.type
       from pg_catalog.pg_proc p,
            unnest(p.proargnames, p.proargtypes::oid[]::regtype[]::text[]) as a(name, type)
      where p.proname = $1 and p.pronamespace = 'public'::regnamespace and a.type is not null`,
    [fn],
  );
  const types = new Map(rows.map((r) => [r.name, r.type]));
  _argTypes.set(fn, types);
  return types;
}

async function _callSql(db: SqlSession, fn: string, args: Record<string, unknown>) {
  const types = await _typesOf(db, fn);
  const params: unknown[] = [];
  const named = Object.entries(args).map(([name, value]) => {
    const type = types.get(name);
    if (!type) throw new Error(`public.${fn} has no parameter ${name}`);
    // Values go to the driver as they are: it serialises each one for the
    // parameter type the server reports (JSON.stringify for jsonb, t/f for
    // boolean, so a pre-stringified value would be encoded wrongly).
    params.push(value === undefined ? null : value);
    return `${name} => $${params.length}::${type}`;
  });
  return { text: `public.${fn}(${named.join(", ")})`, params };
}

/** Calls `public.<fn>(name => value, …)` and returns its (scalar or jsonb) result. */
export async function rpc<T = unknown>(db: SqlSession, fn: string, args: Record<string, unknown> = {}): Promise<T> {
  const { text, params } = await _callSql(db, fn, args);
  const [row] = await db.query<{ result: T }>(`select ${text} as result`, params);
  return row!.result;
}

/** Calls a set-returning `public.<fn>(…)` and returns its rows. */
export async function rpcRows<T extends Record<string, unknown>>(
  db: SqlSession,
  fn: string,
  args: Record<string, unknown> = {},
): Promise<T[]> {
  const { text, params } = await _callSql(db, fn, args);
  return await db.query<T>(`select * from ${text}`, params);
}

/** Asserts that `run` fails with exactly this SQLSTATE. */
export async function assertSqlState(run: Promise<unknown> | (() => Promise<unknown>), code: string): Promise<void> {
  await assert.rejects(typeof run === "function" ? run() : run, (error: unknown) => {
    assert.ok(error instanceof SqlError, `expected a SqlError, got ${String(error)}`);
    assert.equal(error.code, code, `expected SQLSTATE ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

class _Rollback extends Error {}

/**
 * Runs `fn` in a transaction and rolls it back whatever happens, so a test
 * may corrupt data, switch roles or disable triggers without leaking.
 */
export async function inRollback<T>(db: SqlClient, fn: (tx: SqlSession) => Promise<T>): Promise<T> {
  let result: T | undefined;
  try {
    await db.transaction(async (tx) => {
      result = await fn(tx);
      throw new _Rollback();
    });
  } catch (error) {
    if (!(error instanceof _Rollback)) throw error;
  }
  return result as T;
}

/** A fresh user id. */
export function newUserId(): string {
  return crypto.randomUUID();
}

/** Options of {@linkcode newPayment}. */
export interface NewPaymentOptions {
  userId?: string;
  amount?: number;
  currency?: string;
}

/** Creates a pending payment through begin_payment_request (a fresh key). */
export async function newPayment(
  db: SqlSession,
  { userId = newUserId(), amount = 5000, currency = "NGN" }: NewPaymentOptions = {},
): Promise<Payment> {
  const result = await rpc<{ outcome: string; payment: Payment }>(db, "begin_payment_request", {
    p_user_id: userId,
    p_idempotency_key: crypto.randomUUID(),
    p_fingerprint: "fp",
    p_method: "POST",
    p_path: "/v1/payments",
    p_amount: amount,
    p_currency: currency,
    p_email: "buyer@example.com",
  });
  assert.equal(result.outcome, "created");
  return result.payment;
}

/** The payment as get_payment_by_reference returns it. */
export async function paymentOf(db: SqlSession, reference: string): Promise<Payment> {
  const payment = await rpc<Payment | null>(db, "get_payment_by_reference", { p_reference: reference });
  assert.ok(payment, `payment ${reference} exists`);
  return payment;
}

/** Moves a payment along legal transitions with transition_payment until it reaches `path`'s last state. */
export async function walk(db: SqlSession, reference: string, path: string[]): Promise<Payment> {
  let payment = await paymentOf(db, reference);
  for (const to of path) {
    payment = await rpc<Payment>(db, "transition_payment", {
      p_reference: reference,
      p_to: to,
      p_expected_lock_version: payment.lock_version,
      p_actor: "test",
    });
  }
  return payment;
}

// -----------------------------------------------------------------------------
// Money helpers of the refund and debit suites (refunds_test.ts, debits_test.ts).
// -----------------------------------------------------------------------------

/** Creates a payment and credits it with its own amount: completed, its wallet credited. */
export async function creditedPayment(db: SqlSession, options: NewPaymentOptions = {}): Promise<Payment> {
  const p = await newPayment(db, options);
  const result = await rpc<{ outcome: string; payment: Payment }>(db, "credit_user", {
    p_reference: p.reference,
    p_amount: p.amount,
    p_currency: p.currency,
  });
  assert.equal(result.outcome, "credited");
  return result.payment;
}

/** Asserts that check_ledger_invariants() reports nothing. */
export async function assertLedgerHolds(db: SqlSession): Promise<void> {
  assert.deepEqual(await rpcRows(db, "check_ledger_invariants"), []);
}

/** Everything a user's money is made of, as stored (see {@linkcode moneyOf}). */
export interface MoneySnapshot {
  wallets: { currency: string; balance: number; held: number; lock_version: number }[];
  payments: { reference: string; state: string; refunded_amount: number; lock_version: number }[];
  refunds: { id: string; state: string; amount: number; updated_at: string }[];
  ledger: { id: string; type: string; amount: number }[];
  refund_requests: { id: string; status: string; refund_id: string | null }[];
}

/**
 * A user's wallets, payments, refunds, ledger entries and refund requests, for
 * asserting that a refused call wrote nothing: compare a snapshot taken
 * before with one taken after.
 */
export async function moneyOf(db: SqlSession, userId: string): Promise<MoneySnapshot> {
  const [row] = await db.query<{ snapshot: MoneySnapshot }>(
    `select pg_catalog.jsonb_build_object(
       'wallets', (select coalesce(jsonb_agg(jsonb_build_object('currency', w.currency, 'balance', w.balance,
                     'held', w.held, 'lock_version', w.lock_version) order by w.currency), '[]')
                     from public.wallets w where w.user_id = $1),
       'payments', (select coalesce(jsonb_agg(jsonb_build_object('reference', p.reference, 'state', p.state,
                      'refunded_amount', p.refunded_amount, 'lock_version', p.lock_version) order by p.reference), '[]')
                      from public.payment_logs p where p.user_id = $1),
       'refunds', (select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'state', r.state, 'amount', r.amount,
                     'updated_at', r.updated_at) order by r.id), '[]')
                     from public.refunds r where r.user_id = $1),
       'ledger', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'type', t.type, 'amount', t.amount)
                    order by t.id), '[]')
                    from public.sms_transactions t where t.user_id = $1),
       'refund_requests', (select coalesce(jsonb_agg(jsonb_build_object('id', q.id, 'status', q.status,
                             'refund_id', q.refund_id) order by q.id), '[]')
                             from public.refund_requests q
                             join public.payment_logs p on p.reference = q.payment_reference
                            where p.user_id = $1)) as snapshot`,
    [userId],
  );
  return row!.snapshot;
}

/** Waits until `count` sessions of this database named one of `names` wait on a lock (pg_stat_activity). */
export async function waitForLockWaiters(db: SqlSession, names: readonly string[], count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const [row] = await db.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity
        where datname = current_database() and application_name = any($1::text[]) and wait_event_type = 'Lock'`,
      [[...names]],
    );
    if (Number(row?.n) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${count} of ${names.join(", ")} never waited on the lock`);
}

/**
 * Starts every racer at once while `blocker` holds the row lock that
 * `lock.sql` takes (it must select one row FOR UPDATE), and releases it only
 * when all of them are seen waiting on a lock in pg_stat_activity: their
 * transactions provably overlap. Each racer runs on its own connection,
 * whose application_name is one of `names`.
 */
export async function raceBehindLock<T>(
  db: SqlClient,
  blocker: SqlClient,
  names: readonly string[],
  racers: (() => Promise<T>)[],
  lock: { sql: string; params: unknown[] },
): Promise<PromiseSettledResult<T>[]> {
  let running: Promise<PromiseSettledResult<T>[]> | undefined;
  await blocker.transaction(async (tx) => {
    const locked = await tx.query(lock.sql, lock.params);
    assert.equal(locked.length, 1, "the blocker holds exactly one row");
    running = Promise.allSettled(racers.map((run) => run()));
    await waitForLockWaiters(db, names, racers.length);
  });
  return await running!;
}
