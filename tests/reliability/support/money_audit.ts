/**
 * The end-of-run audit of the reliability suites, read straight from the
 * database (the service's own tables and the sandbox provider's): what the
 * provider collected against what we credited.
 *
 * - lost: the provider holds a success for the amount and currency asked
 *   (fees passed to the customer allowed) and the payment is not credited
 *   exactly once;
 * - double: a payment with more than one ledger credit;
 * - wrongly credited: a credit for a payment the provider has no such
 *   success for (declined, abandoned, another amount);
 * - balances against the ledger, recomputed here from the entries (not only
 *   through `check_ledger_invariants()`, which is read as well);
 * - two probes of the defences behind the numbers, each in a rolled-back
 *   transaction: a second credit for a paid payment is refused by the
 *   database (the one-credit index), and a lock holder presenting a fence
 *   below the payment's is refused (PM003).
 *
 * @module
 */
import type { SqlClient } from "../../../src/db/sql_client.ts";

/** One payment as the audit sees it. */
export interface AuditedPayment {
  reference: string;
  state: string;
  failureReason: string | null;
  amount: number;
  credits: number;
  creditedAmount: number;
  /** The provider holds a success for the amount and currency asked. */
  paidAsAsked: boolean;
  /** The provider holds a success for another amount or currency (a tampered checkout). */
  paidOtherwise: boolean;
}

/** What the audit found. */
export interface MoneyAudit {
  payments: Map<string, AuditedPayment>;
  /** Paid as asked, not credited exactly once. */
  lost: string[];
  /** More than one credit. */
  double: string[];
  /** Credited without a matching provider success, or for another amount. */
  wronglyCredited: string[];
  /** Paid with another amount or currency, yet not failed for a mismatch. */
  mismatchNotFailed: string[];
  /** Wallets whose balance or held amount differs from their ledger / refunds in flight. */
  walletMismatches: Array<Record<string, unknown>>;
  /** Rows of `check_ledger_invariants()`. */
  invariants: Array<Record<string, unknown>>;
  /** Whether a second credit for a paid payment was refused with 23505 (null: no paid payment to try). */
  secondCreditRefused: boolean | null;
  /** Whether a stale fence was refused with PM003 (null: no fenced payment to try). */
  staleFenceRefused: boolean | null;
}

/** The provider's successes per payment of ours (any attempt `<reference>.r<n>`), from the sandbox's tables. */
const PAYMENTS_SQL = `
  with provider as (
    select pg_catalog.split_part(t.reference, '.r', 1) as reference,
           bool_or(t.status in ('success', 'reversed') and
                   coalesce(t.settled_amount, t.amount) - case when t.fees_passed then coalesce(t.fees, 0) else 0 end
                     = t.amount and coalesce(t.settled_currency, t.currency) = t.currency) as paid_as_asked,
           bool_or(t.status in ('success', 'reversed') and not (
                   coalesce(t.settled_amount, t.amount) - case when t.fees_passed then coalesce(t.fees, 0) else 0 end
                     = t.amount and coalesce(t.settled_currency, t.currency) = t.currency)) as paid_otherwise
      from sandbox_paystack.transactions t
     group by 1
  ), credits as (
    select payment_log_id, count(*)::int8 as n, sum(amount)::int8 as amount
      from public.sms_transactions where type = 'credit' group by 1
  )
  select p.reference, p.state::text as state, p.failure_reason, p.amount::int8 as amount,
         coalesce(c.n, 0)::int8 as credits, coalesce(c.amount, 0)::int8 as credited,
         coalesce(pr.paid_as_asked, false) as paid_as_asked, coalesce(pr.paid_otherwise, false) as paid_otherwise
    from public.payment_logs p
    left join provider pr on pr.reference = p.reference
    left join credits c on c.payment_log_id = p.id`;

/** Every wallet against its ledger (credits − refunds − debits) and its refunds in flight. */
const WALLETS_SQL = `
  select w.id, w.user_id, w.currency, w.balance::int8 as balance, w.held::int8 as held,
         coalesce((select sum(case t.type when 'credit' then t.amount else -t.amount end)
                     from public.sms_transactions t where t.wallet_id = w.id), 0)::int8 as ledger,
         coalesce((select sum(r.amount) from public.refunds r
                    where r.wallet_id = w.id and r.state in ('pending', 'processing', 'needs_attention')), 0)::int8
           as in_flight
    from public.wallets w`;

class _Rollback extends Error {}

/** Runs `sql` in a transaction that is always rolled back; the SQLSTATE it failed with, or null when it passed. */
async function _probe(db: SqlClient, sql: string, params: unknown[]): Promise<string | null> {
  let code: string | null = null;
  try {
    await db.transaction(async (tx) => {
      try {
        await tx.query(sql, params);
      } catch (error) {
        code = (error as { code?: string }).code ?? "unknown";
      }
      throw new _Rollback();
    });
  } catch (error) {
    if (!(error instanceof _Rollback)) throw error;
  }
  return code;
}

/**
 * Audits the whole database `db` (a superuser session on the suite's own
 * database, which holds the sandbox provider's schema too).
 */
export async function auditMoney(db: SqlClient): Promise<MoneyAudit> {
  const rows = await db.query<{
    reference: string;
    state: string;
    failure_reason: string | null;
    amount: string;
    credits: string;
    credited: string;
    paid_as_asked: boolean;
    paid_otherwise: boolean;
  }>(PAYMENTS_SQL);
  const payments = new Map<string, AuditedPayment>();
  const audit: MoneyAudit = {
    payments,
    lost: [],
    double: [],
    wronglyCredited: [],
    mismatchNotFailed: [],
    walletMismatches: [],
    invariants: [],
    secondCreditRefused: null,
    staleFenceRefused: null,
  };
  for (const row of rows) {
    const p: AuditedPayment = {
      reference: row.reference,
      state: row.state,
      failureReason: row.failure_reason,
      amount: Number(row.amount),
      credits: Number(row.credits),
      creditedAmount: Number(row.credited),
      paidAsAsked: row.paid_as_asked,
      paidOtherwise: row.paid_otherwise,
    };
    payments.set(p.reference, p);
    const credited = p.state === "completed" || p.state === "refunded";
    if (p.credits > 1) audit.double.push(p.reference);
    if (p.paidAsAsked && !p.paidOtherwise && !(credited && p.credits === 1)) audit.lost.push(p.reference);
    if (p.credits > 0 && (!p.paidAsAsked || p.paidOtherwise || p.creditedAmount !== p.amount * p.credits)) {
      audit.wronglyCredited.push(p.reference);
    }
    if (p.paidOtherwise && !(p.state === "failed" && p.failureReason?.startsWith("amount_mismatch:"))) {
      audit.mismatchNotFailed.push(p.reference);
    }
  }
  for (const w of await db.query<Record<string, string>>(WALLETS_SQL)) {
    if (w.balance !== w.ledger || w.held !== w.in_flight || Number(w.balance) < 0) audit.walletMismatches.push(w);
  }
  audit.invariants = await db.query("select * from public.check_ledger_invariants()");

  // A second credit for a paid payment, written as the table owner would: the
  // one-credit-per-payment index must refuse it whatever wrote it.
  const [paid] = await db.query<{ id: string; user_id: string; wallet_id: string; amount: string; currency: string }>(
    `select p.id, p.user_id, t.wallet_id, p.amount, p.currency
       from public.payment_logs p join public.sms_transactions t on t.payment_log_id = p.id and t.type = 'credit'
      limit 1`,
  );
  if (paid) {
    const code = await _probe(
      db,
      `insert into public.sms_transactions
         (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after)
       values ('audit-' || gen_random_uuid(), 'audit:' || gen_random_uuid(), $1, $2, $3, 'credit', $4, $5, 0)`,
      [paid.id, paid.user_id, paid.wallet_id, paid.amount, paid.currency],
    );
    audit.secondCreditRefused = code === "23505";
  }
  // A holder whose lease ran out presents a fence below the payment's: refused before anything else.
  const [fenced] = await db.query<{ reference: string; amount: string; currency: string; last_fence: string }>(
    "select reference, amount, currency, last_fence from public.payment_logs where last_fence > 1 limit 1",
  );
  if (fenced) {
    const code = await _probe(db, "select public.credit_user($1, $2, $3, null, $4, 'audit')", [
      fenced.reference,
      fenced.amount,
      fenced.currency,
      Number(fenced.last_fence) - 1,
    ]);
    audit.staleFenceRefused = code === "PM003";
  }
  return audit;
}

/** The audit's verdict in one line, for assertion messages and the figures. */
export function auditSummary(audit: MoneyAudit): Record<string, unknown> {
  let credited = 0;
  let paidAsAsked = 0;
  for (const p of audit.payments.values()) {
    if (p.credits > 0) credited++;
    if (p.paidAsAsked) paidAsAsked++;
  }
  return {
    payments: audit.payments.size,
    paid_as_asked: paidAsAsked,
    credited,
    lost: audit.lost.length,
    double: audit.double.length,
    wrongly_credited: audit.wronglyCredited.length,
    mismatch_not_failed: audit.mismatchNotFailed.length,
    wallet_mismatches: audit.walletMismatches.length,
    invariant_violations: audit.invariants.length,
    second_credit_refused: audit.secondCreditRefused,
    stale_fence_refused: audit.staleFenceRefused,
  };
}
