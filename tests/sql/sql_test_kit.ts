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
