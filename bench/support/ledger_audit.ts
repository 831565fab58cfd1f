/**
 * What a run did to the service's money: credits per payment, balances
 * against what was paid, and `check_ledger_invariants()`.
 *
 * @module
 */
import type { BenchStack } from "./bench_stack.ts";
import type { PaidPayment } from "./payments_fixture.ts";

/** The service's books after a run, for `payments`. */
export interface LedgerAudit {
  payments: number;
  /** Payments in state completed with exactly one credit. */
  creditedOnce: number;
  /** Payments with two or more credit entries (the unique index makes this impossible). */
  creditedTwiceOrMore: number;
  /** Payments with no credit entry. */
  notCredited: number;
  /** Σ balances of the payments' wallets − Σ amounts paid (minor units). */
  balanceError: number;
  /** Rows returned by `check_ledger_invariants()` (whole database). */
  invariantViolations: number;
}

/** Audits `payments` (all paid in full at the provider). */
export async function auditLedger(stack: BenchStack, payments: readonly PaidPayment[]): Promise<LedgerAudit> {
  const db = stack.database.db;
  const refs = payments.map((p) => p.reference);
  const users = [...new Set(payments.map((p) => p.userId))];
  const [row] = await db.query<Record<string, string>>(
    `with c as (
       select p.reference, p.state::text as state, count(t.id) as n
       from public.payment_logs p
       left join public.sms_transactions t on t.payment_log_id = p.id and t.type = 'credit'
       where p.reference = any($1::text[])
       group by p.reference, p.state
     )
     select (select count(*) from c where n = 1 and state = 'completed') as once,
            (select count(*) from c where n > 1) as twice,
            (select count(*) from c where n = 0) as none,
            (select coalesce(sum(balance), 0) from public.wallets where user_id = any($2::uuid[])) as balance`,
    [refs, users],
  );
  const violations = await db.query("select * from public.check_ledger_invariants()");
  return {
    payments: payments.length,
    creditedOnce: Number(row!.once),
    creditedTwiceOrMore: Number(row!.twice),
    notCredited: Number(row!.none),
    balanceError: Number(row!.balance) - payments.reduce((sum, p) => sum + p.amount, 0),
    invariantViolations: violations.length,
  };
}
