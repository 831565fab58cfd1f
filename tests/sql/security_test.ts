/**
 * Row level security and function privileges, checked the way PostgREST
 * runs a request: inside a transaction, `request.jwt.claims` set
 * transaction-locally, then `set local role <role>`.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlClient, SqlSession } from "../../src/db/sql_client.ts";
import { assertSqlState, inRollback, newPayment, newUserId, rpc } from "./sql_test_kit.ts";
import { paymentView } from "../../src/http/payment_view.ts";
import type { Payment } from "../../src/payments/payment_store.ts";

const TABLES = [
  "wallets",
  "payment_logs",
  "sms_transactions",
  "idempotency_keys",
  "webhook_events",
  "refund_requests",
  "provider_reconciliation_cursors",
];

/** Every RPC function of the API, with arguments that succeed in this order on a fresh pending payment. */
const RPC_CALLS = (reference: string, user: string): [string, string][] => [
  ["begin_payment_request", `'${user}', 'k', 'fp', 'POST', '/v1/payments', 100, 'NGN'`],
  ["complete_payment_request", `'${user}', 'k', 201, '{}'`],
  ["release_payment_request", `'${user}', 'k'`],
  ["get_payment", `'${user}', '${reference}'`],
  ["get_payment_by_reference", `'${reference}'`],
  ["list_payments", `'${user}'`],
  ["transition_payment", `'${reference}', 'processing', 0, 'x'`],
  ["mark_processing", `'${reference}'`],
  ["credit_user", `'${reference}', 5000, 'NGN'`],
  ["fail_payment", `'${reference}', 'x'`],
  ["record_webhook_event", `'paystack', 'e', 'charge.success', '${reference}', '{}'`],
  ["reconcile_candidates", ``],
  ["get_wallet", `'${user}'`],
  ["check_ledger_invariants", ``],
  ["purge_idempotency_keys", ``],
  ["ping", ``],
  ["max_fence", ``],
  ["resolve_provider_reference", `'${reference}'`],
  ["get_provider_reconciliation_cursor", `'paystack'`],
  ["advance_provider_reconciliation_cursor", `'paystack', now()`],
  // Last: it bumps the payment's lock_version, which transition_payment above expects at 0.
  ["open_provider_attempt", `'${reference}'`],
  // The payment is completed by credit_user above: it can be refunded.
  ["begin_refund", `'${reference}', 100, 'r', 'k', 'fp'`],
  ["claim_refund_submission", `gen_random_uuid()`],
  ["refund_candidates", ``],
  ["open_success_events", ``],
  ["refund_request_candidates", ``],
  ["list_refunds", `'${reference}'`],
  ["get_refund", `gen_random_uuid()`],
  ["release_refund_claim", `gen_random_uuid()`],
  ["refuse_refund_request", `gen_random_uuid(), 'x'`],
  ["apply_refund_status", `gen_random_uuid(), null, 'processed'`],
  ["debit_wallet", `'${user}', 'NGN', 1, 'sms', 'k', 'fp'`],
];

/**
 * What `authenticated` may select of its own rows: exactly what the HTTP API
 * shows (paymentView; the balances and ledger entries of GET /v1/wallet,
 * where payment_reference comes from a join, not a column).
 */
const PUBLIC_COLUMNS: Record<string, string[]> = {
  payment_logs: Object.keys(paymentView({} as Payment)).sort(),
  wallets: ["balance", "currency", "held", "updated_at"],
  sms_transactions: ["amount", "balance_after", "created_at", "currency", "id", "reference", "type"],
};

function asRole<T>(db: SqlClient, role: string, sub: string | null, fn: (tx: SqlSession) => Promise<T>): Promise<T> {
  return inRollback(db, async (tx) => {
    const claims = JSON.stringify(sub ? { sub, role } : { role });
    await tx.query("select set_config('request.jwt.claims', $1, true)", [claims]);
    await tx.query(`set local role ${role}`);
    return await fn(tx);
  });
}

Deno.test("row level security and privileges", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const alice = newUserId();
    const bob = newUserId();
    const alicePayment = await newPayment(db, { userId: alice, amount: 1000 });
    const bobPayment = await newPayment(db, { userId: bob, amount: 2000 });
    for (const p of [alicePayment, bobPayment]) {
      await rpc(db, "credit_user", { p_reference: p.reference, p_amount: p.amount, p_currency: "NGN" });
    }

    await t.step("RLS is enabled on every table", async () => {
      const rows = await db.query<{ relname: string; relrowsecurity: boolean }>(
        "select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace and relname = any($1)",
        [TABLES],
      );
      assert.equal(rows.length, TABLES.length);
      for (const row of rows) assert.equal(row.relrowsecurity, true, row.relname);
    });

    await t.step("an authenticated user reads only their own wallet, payments and ledger", async () => {
      await asRole(db, "authenticated", alice, async (tx) => {
        const payments = await tx.query<{ reference: string }>("select reference from public.payment_logs");
        assert.deepEqual(payments.map((r) => r.reference), [alicePayment.reference]);
        const wallets = await tx.query<{ currency: string; balance: string }>(
          "select currency, balance from public.wallets",
        );
        assert.deepEqual(wallets, [{ currency: "NGN", balance: "1000" }]);
        const ledger = await tx.query<{ amount: string }>("select amount from public.sms_transactions");
        assert.deepEqual(ledger.map((r) => r.amount), ["1000"]);
      });
      await asRole(db, "authenticated", bob, async (tx) => {
        const payments = await tx.query<{ reference: string }>("select reference from public.payment_logs");
        assert.deepEqual(payments.map((r) => r.reference), [bobPayment.reference]);
        const ledger = await tx.query<{ amount: string }>("select amount from public.sms_transactions");
        assert.deepEqual(ledger.map((r) => r.amount), ["2000"]);
      });
    });

    await t.step("authenticated may select exactly the columns the API shows, no table-wide select", async () => {
      for (const [table, expected] of Object.entries(PUBLIC_COLUMNS)) {
        const [table_wide] = await db.query<{ ok: boolean }>(
          "select has_table_privilege('authenticated', $1, 'select') as ok",
          [`public.${table}`],
        );
        assert.equal(table_wide!.ok, false, `table-wide select on ${table}`);
        const granted = await db.query<{ column_name: string }>(
          `select column_name from information_schema.column_privileges
            where grantee = 'authenticated' and table_schema = 'public' and table_name = $1
              and privilege_type = 'SELECT' order by column_name`,
          [table],
        );
        assert.deepEqual(granted.map((r) => r.column_name), expected, table);
      }
      for (const role of ["anon", "authenticated"]) {
        const [other] = await db.query<{ n: number }>(
          `select count(*)::int as n from information_schema.column_privileges
            where grantee = $1 and table_schema = 'public' and privilege_type <> 'SELECT'`,
          [role],
        );
        assert.equal(other!.n, 0, `${role} holds no column privilege but select`);
      }
    });

    await t.step("selecting an internal column (or *) of one's own rows is 42501", async () => {
      const internal: Record<string, string[]> = {
        payment_logs: [
          "provider_payload",
          "access_code",
          "idempotency_key",
          "last_fence",
          "id",
          "user_id",
          "provider_payload->>'status'",
          "*",
        ],
        wallets: ["id", "user_id", "lock_version", "*"],
        sms_transactions: ["idempotency_key", "payment_log_id", "wallet_id", "user_id", "*"],
      };
      for (const [table, columns] of Object.entries(internal)) {
        for (const column of columns) {
          await assertSqlState(
            asRole(db, "authenticated", alice, (tx) => tx.query(`select ${column} from public.${table}`)),
            "42501",
          );
        }
        // A filter or an order on an internal column needs the privilege too.
        await assertSqlState(
          asRole(
            db,
            "authenticated",
            alice,
            (tx) => tx.query(`select count(*) from public.${table} where user_id = $1`, [alice]),
          ),
          "42501",
        );
      }
    });

    await t.step("the public columns are readable, for the owner's rows only", async () => {
      for (const [table, columns] of Object.entries(PUBLIC_COLUMNS)) {
        const mine = await asRole(
          db,
          "authenticated",
          alice,
          (tx) => tx.query(`select ${columns.join(", ")} from public.${table}`),
        );
        assert.equal(mine.length, 1, table);
        assert.deepEqual(Object.keys(mine[0]!).sort(), columns);
        const stranger = await asRole(
          db,
          "authenticated",
          newUserId(),
          (tx) => tx.query(`select ${columns.join(", ")} from public.${table}`),
        );
        assert.deepEqual(stranger, [], `${table} rows of others stay hidden`);
      }
      const [payment] = await asRole(
        db,
        "authenticated",
        alice,
        (tx) =>
          tx.query<{ reference: string; amount: string; state: string }>(
            "select reference, amount, state from public.payment_logs",
          ),
      );
      assert.deepEqual(payment, { reference: alicePayment.reference, amount: "1000", state: "completed" });
    });

    await t.step("an authenticated user cannot read the service tables", async () => {
      for (
        const table of ["idempotency_keys", "webhook_events", "refund_requests", "provider_reconciliation_cursors"]
      ) {
        await assertSqlState(
          asRole(db, "authenticated", alice, (tx) => tx.query(`select * from public.${table}`)),
          "42501",
        );
      }
    });

    await t.step("an authenticated user cannot insert, update or delete anything", async () => {
      const writes = [
        `insert into public.payment_logs (user_id, reference, amount, currency) values ('${alice}', 'pay-mine', 1, 'NGN')`,
        `update public.payment_logs set failure_reason = 'x' where user_id = '${alice}'`,
        `delete from public.payment_logs where user_id = '${alice}'`,
        `update public.wallets set balance = 1000000 where user_id = '${alice}'`,
        `insert into public.wallets (user_id, currency, balance) values ('${alice}', 'USD', 1000000)`,
        `insert into public.sms_transactions (reference, idempotency_key, user_id, wallet_id, type, amount, currency,
           balance_after) select 'x', 'x', user_id, id, 'credit', 1, 'NGN', 1 from public.wallets`,
        `insert into public.refund_requests (payment_reference, reason) values ('${alicePayment.reference}', 'x')`,
        `truncate public.wallets`,
      ];
      for (const sql of writes) {
        await assertSqlState(asRole(db, "authenticated", alice, (tx) => tx.query(sql)), "42501");
      }
    });

    await t.step("anon reads nothing and writes nothing", async () => {
      for (const table of TABLES) {
        await assertSqlState(asRole(db, "anon", null, (tx) => tx.query(`select * from public.${table}`)), "42501");
      }
      await assertSqlState(
        asRole(db, "anon", null, (tx) => tx.query("update public.wallets set balance = 0")),
        "42501",
      );
    });

    await t.step("anon and authenticated cannot execute any RPC or helper (42501)", async () => {
      const calls = RPC_CALLS(alicePayment.reference, alice);
      for (const role of ["anon", "authenticated"]) {
        for (const [fn, args] of calls) {
          await assertSqlState(
            asRole(db, role, role === "anon" ? null : alice, (tx) => tx.query(`select public.${fn}(${args})`)),
            "42501",
          );
        }
        await assertSqlState(
          asRole(db, role, alice, (tx) => tx.query(`select private._lock_payment('${alicePayment.reference}', null)`)),
          "42501",
        );
      }
    });

    await t.step("service_role executes every RPC but no internal helper", async () => {
      // In order, in one transaction: complete needs the record begin created.
      await asRole(db, "service_role", null, async (tx) => {
        const fresh = await newPayment(tx, { userId: alice });
        for (const [fn, args] of RPC_CALLS(fresh.reference, alice)) await tx.query(`select public.${fn}(${args})`);
      });
      for (const helper of ["_lock_payment(null, null)", "_iso(now())", "_set_actor('x', 'y')"]) {
        await assertSqlState(asRole(db, "service_role", null, (tx) => tx.query(`select private.${helper}`)), "42501");
      }
    });

    await t.step("helpers live in the unexposed private schema, none in public", async () => {
      const [row] = await db.query<{ n: number }>(
        `select count(*)::int as n from pg_proc where pronamespace = 'public'::regnamespace and proname like '\\_%'`,
      );
      assert.equal(row!.n, 0);
      const [priv] = await db.query<{ n: number }>(
        `select count(*)::int as n from pg_proc where pronamespace = 'private'::regnamespace`,
      );
      assert.ok(priv!.n >= 10, `private schema holds ${priv!.n} helpers`);
      for (const role of ["anon", "authenticated", "service_role"]) {
        const [usage] = await db.query<{ ok: boolean }>(`select has_schema_privilege($1, 'private', 'usage') as ok`, [
          role,
        ]);
        assert.equal(usage!.ok, false, `${role} has usage on private`);
      }
    });

    await t.step("every public function is security definer with an empty search_path", async () => {
      const rows = await db.query<{ proname: string; prosecdef: boolean; proconfig: string[] | null }>(
        `select proname, prosecdef, proconfig from pg_proc
          where pronamespace = 'public'::regnamespace`,
      );
      assert.equal(rows.length, RPC_CALLS("", "").length);
      for (const row of rows) {
        assert.equal(row.prosecdef, true, row.proname);
        assert.deepEqual(row.proconfig, ['search_path=""'], row.proname);
      }
    });
  } finally {
    await close();
  }
});
