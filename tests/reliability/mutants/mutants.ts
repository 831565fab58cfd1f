/**
 * The deliberately broken versions of the money rules that the reliability
 * suite must catch (issue 14, item 6). Each mutant replaces exact text in
 * one file of a scratch copy of the repository; `occurrences` is how many
 * times the text must be there, so a mutant whose target moved fails loudly
 * as "stale" instead of silently testing nothing.
 *
 * @module
 */

/** One broken version. */
export interface Mutant {
  name: string;
  /** What the break means, in the words of the rule it removes. */
  breaks: string;
  /** The file (from the repository root) and the text replaced in it. */
  file: string;
  find: string;
  replace: string;
  /** How many times `find` must occur (all are replaced). */
  occurrences: number;
  /** The test files run against it (from the repository root). */
  tests: string[];
}

const MIGRATIONS = "supabase/migrations";
const STORM = "tests/reliability/storm_test.ts";

/** Every mutant, in the order they run. */
export const MUTANTS: readonly Mutant[] = [
  {
    name: "payment_row_lock_removed",
    breaks: "writers read the payment without SELECT … FOR UPDATE, so two credits can both see it unpaid",
    file: `${MIGRATIONS}/20261127000002_payment_state_machine.sql`,
    find: "select * into v from public.payment_logs where reference = p_reference for update;",
    replace: "select * into v from public.payment_logs where reference = p_reference;",
    occurrences: 2,
    tests: [STORM],
  },
  {
    name: "one_credit_index_dropped",
    breaks: "the unique partial index allowing at most one credit per payment is gone",
    file: `${MIGRATIONS}/20261127000001_payments_schema.sql`,
    find: "create unique index sms_transactions_one_credit_per_payment on public.sms_transactions (payment_log_id)",
    replace: "create index sms_transactions_one_credit_per_payment on public.sms_transactions (payment_log_id)",
    occurrences: 1,
    tests: [STORM],
  },
  {
    name: "fence_check_skipped",
    breaks: "a lock holder whose lease ran out (a fence below the payment's) is no longer refused",
    file: `${MIGRATIONS}/20261127000002_payment_state_machine.sql`,
    find: "if v.last_fence is not null and p_fence < v.last_fence then",
    replace: "if false then",
    occurrences: 1,
    tests: [STORM],
  },
  {
    name: "amount_comparison_skipped",
    breaks: "credit_user credits whatever amount and currency the provider confirmed",
    file: `${MIGRATIONS}/20261127000004_credit.sql`,
    find: "elsif p_amount <> v.amount or p_currency <> v.currency then",
    replace: "elsif false then",
    occurrences: 1,
    tests: [STORM],
  },
  {
    name: "overdraw_check_skipped",
    breaks: "debit_wallet spends more than the spendable balance (balance − held for refunds)",
    file: `${MIGRATIONS}/20261128000002_refunds_debits.sql`,
    find: "if v_wallet.id is null or v_wallet.balance - v_wallet.held < p_amount then",
    replace: "if v_wallet.id is null then",
    occurrences: 1,
    tests: [STORM],
  },
  {
    name: "stale_fence_not_repaired",
    breaks: "a fence refused as stale after Redis lost its counter is never raised past the database's (use case)",
    file: "src/payments/run_under_payment_lock.ts",
    find: 'if (!(error instanceof AppError && error.code === "stale_fence")) throw error;',
    replace:
      'if (!(error instanceof AppError && error.code === "stale_fence")) throw error;\n        return { acquired: false };',
    occurrences: 1,
    tests: ["tests/reliability/interleavings_test.ts"],
  },
];
