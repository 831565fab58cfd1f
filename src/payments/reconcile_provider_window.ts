/**
 * Reconciliation from the provider's side (issue "every provider success has
 * exactly one credit"): page through the successes the provider recorded in a
 * time window and prove that each one was credited exactly once, the way a
 * ledger is reconciled against a bank statement. The stuck-payment pass
 * (`reconcile_payments.ts`) starts from our own rows; this one catches what
 * our rows do not show (a state no scan looks at, an event lost before it was
 * stored, a bug in a future change).
 *
 * For each listed success, `resolve_provider_reference` says whose it is:
 *
 * - credited once, for this provider reference → `already_credited`;
 * - not credited (pending, processing, or failed for anything but a
 *   mismatch) → settled through the normal credit path with the listed
 *   provider reference (verify, then `credit_user`, which decides: nothing
 *   can credit twice; a failed payment becomes a late success) →
 *   `credited_now`;
 * - failed for an amount/currency mismatch → `mismatch`, reported, never
 *   credited automatically;
 * - no payment of ours → `unknown_reference`, reported (someone is using our
 *   key, or a transaction we did not create);
 * - credited, but for another attempt's provider reference → `double_paid`:
 *   the customer paid two checkouts of one payment (a lost checkout and its
 *   replacement); one credit is right, the other payment is owed back.
 *
 * Anything that is not `already_credited` is logged at warn (errors at
 * error) and counted in `provider_reconciliation_transactions_total`.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import {
  type ListedTransaction,
  type PaymentProvider,
  ProviderError,
  type TransactionPage,
} from "./payment_provider.ts";
import type { PaymentStore, ProviderReferenceResolution } from "./payment_store.ts";
import type { SettleInput, SettleResult } from "./settle_payment.ts";

/** The actor this pass writes into payments' audit trails. */
export const PROVIDER_RECONCILE_ACTOR = "reconcile_provider";

/** What the pass concluded about one provider success. */
export const PROVIDER_FINDINGS = [
  /** Credited once, for this provider reference: fine. */
  "already_credited",
  /** It had not been credited: credited now through the normal credit path. */
  "credited_now",
  /** The payment failed for an amount/currency mismatch: reported, not credited. */
  "mismatch",
  /** A reference we never issued: reported. */
  "unknown_reference",
  /** The payment was credited for another of its provider attempts: the customer paid twice. */
  "double_paid",
  /** Listed as a success, but verify did not confirm it (yet): checked again next pass. */
  "unconfirmed",
  /** Another holder has the payment's lock: it settles it; checked again next pass. */
  "locked",
  /** The check failed (database, provider, or a ledger that breaks its invariants). */
  "error",
] as const;

/** What the pass concluded about one provider success. */
export type ProviderFinding = typeof PROVIDER_FINDINGS[number];

/** One success that was not simply already credited, for the operator. */
export interface ProviderFindingReport {
  /** The provider's reference (ours, or an attempt `<reference>.r<n>`, or one we never issued). */
  provider_reference: string;
  /** Our payment's reference; null for an unknown reference. */
  reference: string | null;
  finding: Exclude<ProviderFinding, "already_credited">;
  /** What the provider charged, in minor units, and the currency. */
  amount: number;
  currency: string;
  paid_at: string | null;
}

/** The counts of a pass over one window (or several: the sums). */
export interface ProviderWindowCounts {
  /** Listing pages fetched. */
  pages: number;
  /** Provider successes checked (each provider reference once per window). */
  seen: number;
  already_credited: number;
  credited_now: number;
  mismatches: number;
  unknown_references: number;
  double_paid: number;
  unconfirmed: number;
  locked: number;
  errors: number;
}

/** What a pass over one window found. */
export interface ProviderWindowSummary extends ProviderWindowCounts {
  provider: string;
  /** The window, ISO 8601. */
  from: string;
  to: string;
  /**
   * Every success in the window was checked and none needs another look
   * (no error, lock, unconfirmed success, or truncated listing): the window
   * may be recorded as reconciled.
   */
  complete: boolean;
  /** The successes that were not already credited, at most {@linkcode MAX_FINDINGS_REPORTED}. */
  findings: ProviderFindingReport[];
}

/** How many findings a summary lists; the counts are always complete. */
export const MAX_FINDINGS_REPORTED = 100;

/** Dependencies of {@linkcode createReconcileProviderWindow}. */
export interface ReconcileProviderWindowDeps {
  provider: Pick<PaymentProvider, "name" | "listTransactions">;
  store: Pick<PaymentStore, "resolveProviderReference">;
  settle: (input: SettleInput) => Promise<SettleResult>;
  logger: Logger;
  metrics: Metrics;
  /** Transactions per listing page. @default 100 */
  perPage?: number;
  /** Successes checked at once. @default 4 */
  concurrency?: number;
  /**
   * Most pages one window may take; a longer listing is cut there and the
   * window is not complete (a bound on one pass, never a silent skip).
   * @default 1000
   */
  maxPages?: number;
}

/** A time window, ISO 8601 bounds. */
export interface ProviderWindow {
  from: string;
  to: string;
}

/** Zeroed counts. */
export function emptyProviderCounts(): ProviderWindowCounts {
  return {
    pages: 0,
    seen: 0,
    already_credited: 0,
    credited_now: 0,
    mismatches: 0,
    unknown_references: 0,
    double_paid: 0,
    unconfirmed: 0,
    locked: 0,
    errors: 0,
  };
}

const COUNTER_OF: Record<ProviderFinding, keyof ProviderWindowCounts> = {
  already_credited: "already_credited",
  credited_now: "credited_now",
  mismatch: "mismatches",
  unknown_reference: "unknown_references",
  double_paid: "double_paid",
  unconfirmed: "unconfirmed",
  locked: "locked",
  error: "errors",
};

/** Why each finding is logged: one message per finding, so an alert can match it. */
const FINDING_MESSAGES: Record<Exclude<ProviderFinding, "already_credited">, string> = {
  credited_now: "provider reconciliation: a provider success had not been credited; credited now",
  mismatch: "provider reconciliation: a provider success for a payment failed for an amount mismatch; not credited",
  unknown_reference: "provider reconciliation: a provider success for a reference we never issued",
  double_paid:
    "provider reconciliation: a provider success for a payment already credited for another attempt; the customer paid twice",
  unconfirmed:
    "provider reconciliation: the provider listed a success that its verify did not confirm; retried next pass",
  locked: "provider reconciliation: payment locked by another holder; checked again next pass",
  error: "provider reconciliation: a provider success could not be checked",
};

/**
 * Builds the use case: `reconcileProviderWindow({from, to})` pages through
 * the provider's successes in the window and settles what was not credited.
 *
 * @throws {AppError} `provider_unavailable` when a listing page cannot be
 *   fetched: the window is not checked, run it again
 */
export function createReconcileProviderWindow(
  { provider, store, settle, logger, metrics, perPage = 100, concurrency = 4, maxPages = 1_000 }:
    ReconcileProviderWindowDeps,
): (window: ProviderWindow) => Promise<ProviderWindowSummary> {
  const log = logger.child({ provider: provider.name, actor: PROVIDER_RECONCILE_ACTOR });

  /** Classifies a payment that needs no settling: credited (for which attempt?) or a mismatch. */
  function settledFinding(item: ListedTransaction, resolved: ProviderReferenceResolution): ProviderFinding {
    switch (resolved.outcome) {
      case "unknown_reference":
        return "unknown_reference";
      case "mismatch":
        return "mismatch";
      case "not_credited":
        return "unconfirmed";
      case "credited":
        if (resolved.creditedProviderReference !== null && resolved.creditedProviderReference !== item.reference) {
          return "double_paid";
        }
        if (resolved.credits !== 1) {
          // check_ledger_invariants reports it as completed_without_single_credit.
          log.error("provider reconciliation: a credited payment without exactly one ledger credit", {
            reference: resolved.payment.reference,
            credits: resolved.credits,
          });
          return "error";
        }
        return "already_credited";
      default: {
        const unreachable: never = resolved;
        return unreachable;
      }
    }
  }

  async function check(item: ListedTransaction): Promise<{ finding: ProviderFinding; reference: string | null }> {
    const resolved = await store.resolveProviderReference(item.reference);
    if (resolved.outcome !== "not_credited") {
      return {
        finding: settledFinding(item, resolved),
        reference: resolved.outcome === "unknown_reference" ? null : resolved.payment.reference,
      };
    }
    const reference = resolved.payment.reference;
    const settled = await settle({ reference, actor: PROVIDER_RECONCILE_ACTOR, providerReference: item.reference });
    if (settled.kind === "locked") return { finding: "locked", reference };
    if (settled.kind === "done" && settled.outcome === "credited") return { finding: "credited_now", reference };
    // Anything else: ask the database again what it holds now (settled by a
    // racer, failed for a mismatch just now, or still owed).
    return { finding: settledFinding(item, await store.resolveProviderReference(item.reference)), reference };
  }

  return async function reconcileProviderWindow({ from, to }) {
    const counts = emptyProviderCounts();
    const findings: ProviderFindingReport[] = [];
    // Offset pages over a listing that changes while we page may repeat an item: check each reference once.
    const checked = new Set<string>();
    let truncated = false;

    const record = (item: ListedTransaction, finding: ProviderFinding, reference: string | null, error?: unknown) => {
      counts[COUNTER_OF[finding]]++;
      metrics.inc("provider_reconciliation_transactions_total", { provider: provider.name, finding });
      if (finding === "already_credited") return;
      const fields = {
        provider_reference: item.reference,
        reference,
        finding,
        amount: item.amount,
        requested_amount: item.requestedAmount,
        currency: item.currency,
        paid_at: item.paidAt,
        provider_transaction_id: item.providerTransactionId,
        ...(error === undefined ? {} : { error }),
      };
      if (finding === "error") log.error(FINDING_MESSAGES[finding], fields);
      else log.warn(FINDING_MESSAGES[finding], fields);
      if (findings.length < MAX_FINDINGS_REPORTED) {
        findings.push({
          provider_reference: item.reference,
          reference,
          finding,
          amount: item.amount,
          currency: item.currency,
          paid_at: item.paidAt,
        });
      }
    };

    const checkAll = async (items: ListedTransaction[]) => {
      const queue = items.filter((item) => {
        // The listing was asked for successes only; anything else is not ours to judge here.
        if (item.status !== "success" || checked.has(item.reference)) return false;
        checked.add(item.reference);
        return true;
      });
      counts.seen += queue.length;
      const worker = async () => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          try {
            const { finding, reference } = await check(item);
            record(item, finding, reference);
          } catch (error) {
            record(item, "error", null, error);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    };

    for (let page = 1;; page++) {
      if (page > maxPages) {
        truncated = true;
        log.error("provider reconciliation: listing longer than maxPages; the window stays unreconciled", {
          from,
          to,
          max_pages: maxPages,
        });
        break;
      }
      let listed: TransactionPage;
      try {
        listed = await provider.listTransactions({ status: "success", from, to, perPage, page });
      } catch (error) {
        if (error instanceof ProviderError && error.kind === "unauthorized") {
          log.error("provider refused our credentials: check the secret key", { http_status: error.httpStatus });
        } else {
          log.warn("provider reconciliation: listing failed", { from, to, page, error });
        }
        metrics.inc("provider_reconciliation_passes_total", { provider: provider.name, result: "listing_failed" });
        throw new AppError("provider_unavailable", {
          detail: "Could not list the provider's transactions; retry later",
          retryAfter: 60,
          cause: error,
        });
      }
      counts.pages++;
      await checkAll(listed.items);
      if (listed.items.length === 0 || page >= listed.pageCount) break;
    }

    const complete = !truncated && counts.errors === 0 && counts.locked === 0 && counts.unconfirmed === 0;
    metrics.inc("provider_reconciliation_passes_total", {
      provider: provider.name,
      result: complete ? "complete" : "incomplete",
    });
    const summary: ProviderWindowSummary = { provider: provider.name, from, to, ...counts, complete, findings };
    const { findings: _, ...logged } = summary;
    if (complete && counts.seen === counts.already_credited) log.info("provider reconciliation window", logged);
    else log.warn("provider reconciliation window", logged);
    return summary;
  };
}
