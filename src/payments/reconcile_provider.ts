/**
 * The scheduled provider reconciliation pass (`deno task reconcile
 * --provider`, `POST /v1/jobs/reconcile?scope=provider`, hourly from a
 * cron): which windows to check, and the cursor that remembers how far the
 * provider's records were checked.
 *
 * Each pass starts where the last one stopped (`checked_until`, one per
 * provider in SQL), minus an overlap that covers the provider's clock and
 * transactions it records late, and ends now. The first pass, before any
 * cursor exists, looks back {@linkcode ReconcileProviderDeps.defaultSinceMs}.
 * An explicit `sinceMs` re-scans from `now - sinceMs` whatever the cursor says
 * (the cursor never moves back).
 *
 * Every pass also re-lists the last {@linkcode DEFAULT_LATE_SUCCESS_MS}
 * (`lateSuccessMs`) whatever the cursor says: the provider lists transactions
 * by their creation date (the checkout's), and a customer may pay a checkout
 * hours after it was created, after we had failed the payment as declined or
 * abandoned. If that `charge.success` webhook is lost and the owner never
 * verifies, only this re-listing finds the payment, and credits it as a late
 * success (paid means credited). Already credited successes cost one SQL
 * check per page.
 *
 * The range is checked in windows of at most `maxWindowMs`, oldest first; the
 * cursor moves to the end of each window once it and every window before it
 * were checked completely (no error, lock or unconfirmed success) and the
 * range joins the cursor without a gap, so a pass that stops half-way
 * continues from there next time and a window with a problem is looked at
 * again.
 *
 * @module
 */
import type { Clock } from "../observability/clock.ts";
import type { Logger } from "../observability/logger.ts";
import type { PaymentStore } from "./payment_store.ts";
import {
  emptyProviderCounts,
  MAX_FINDINGS_REPORTED,
  type ProviderFindingReport,
  type ProviderWindow,
  type ProviderWindowCounts,
  type ProviderWindowSummary,
} from "./reconcile_provider_window.ts";

/** How far back the first pass looks, before any cursor exists: 48 hours. */
export const DEFAULT_SINCE_MS = 48 * 3_600_000;

/**
 * How much each pass re-checks before the cursor: 10 minutes, for the
 * provider's clock running behind ours and transactions it records late.
 */
export const DEFAULT_OVERLAP_MS = 10 * 60_000;

/**
 * How far back, by checkout creation date, every pass re-lists successes: 48
 * hours, twice the default abandonment age (`RECONCILE_ABANDON_AFTER_HOURS`),
 * so a checkout paid up to a day after we gave up on it is still found.
 */
export const DEFAULT_LATE_SUCCESS_MS = 48 * 3_600_000;

/** The longest window one listing covers: a day. */
export const DEFAULT_MAX_WINDOW_MS = 24 * 3_600_000;

/** What a provider pass did. */
export interface ProviderPassSummary extends ProviderWindowCounts {
  provider: string;
  /** The range checked, ISO 8601. */
  from: string;
  to: string;
  /** Windows the range was checked in. */
  windows: number;
  /** Every window was checked completely and the cursor reached `to`. */
  complete: boolean;
  /** The cursor before and after the pass (`checked_until`; null before the first complete window). */
  cursor: { before: string | null; after: string | null };
  /** The successes that were not simply already credited (at most {@linkcode MAX_FINDINGS_REPORTED}). */
  findings: ProviderFindingReport[];
}

/** Options of one pass. */
export interface ProviderPassOptions {
  /** Re-scan from `now - sinceMs`, ignoring the cursor. */
  sinceMs?: number;
}

/** Dependencies of {@linkcode createReconcileProvider}. */
export interface ReconcileProviderDeps {
  provider: { readonly name: string };
  store: Pick<PaymentStore, "getProviderReconciliationCursor" | "advanceProviderReconciliationCursor">;
  reconcileWindow: (window: ProviderWindow) => Promise<ProviderWindowSummary>;
  clock: Clock;
  logger: Logger;
  /** @default {@linkcode DEFAULT_SINCE_MS} */
  defaultSinceMs?: number;
  /** @default {@linkcode DEFAULT_OVERLAP_MS} */
  overlapMs?: number;
  /** @default {@linkcode DEFAULT_MAX_WINDOW_MS} */
  maxWindowMs?: number;
  /** Re-list at least this far back on every pass; 0 = only from the cursor. @default {@linkcode DEFAULT_LATE_SUCCESS_MS} */
  lateSuccessMs?: number;
}

const _iso = (ms: number) => new Date(ms).toISOString();

/**
 * Builds the pass.
 *
 * @throws {AppError} `provider_unavailable` when the provider's listing
 *   fails; windows checked before it keep their progress
 */
export function createReconcileProvider(
  {
    provider,
    store,
    reconcileWindow,
    clock,
    logger,
    defaultSinceMs = DEFAULT_SINCE_MS,
    overlapMs = DEFAULT_OVERLAP_MS,
    maxWindowMs = DEFAULT_MAX_WINDOW_MS,
    lateSuccessMs = DEFAULT_LATE_SUCCESS_MS,
  }: ReconcileProviderDeps,
): (options?: ProviderPassOptions) => Promise<ProviderPassSummary> {
  if (!(maxWindowMs > 0)) throw new RangeError("Cannot reconcile the provider: maxWindowMs must be positive");
  return async function reconcileProvider({ sinceMs } = {}) {
    const now = clock.now();
    const cursor = await store.getProviderReconciliationCursor(provider.name);
    const start = sinceMs !== undefined ? now - sinceMs : Math.min(
      cursor !== null ? Date.parse(cursor.checkedUntil) - overlapMs : now - defaultSinceMs,
      now - lateSuccessMs,
    );

    const counts = emptyProviderCounts();
    const findings: ProviderFindingReport[] = [];
    let after = cursor?.checkedUntil ?? null;
    let windows = 0;
    let unbroken = true;
    for (let from = start; from < now; from += maxWindowMs) {
      const to = Math.min(from + maxWindowMs, now);
      const summary = await reconcileWindow({ from: _iso(from), to: _iso(to) });
      windows++;
      for (const key of Object.keys(counts) as (keyof ProviderWindowCounts)[]) counts[key] += summary[key];
      findings.push(...summary.findings.slice(0, MAX_FINDINGS_REPORTED - findings.length));
      // Only windows that continue the checked range without a gap move the
      // cursor: an incomplete window, or a re-scan starting after the cursor,
      // would otherwise leave a stretch that no later pass looks at.
      unbroken &&= summary.complete && (after === null || from <= Date.parse(after));
      if (unbroken) after = (await store.advanceProviderReconciliationCursor(provider.name, _iso(to))).checkedUntil;
    }

    const pass: ProviderPassSummary = {
      provider: provider.name,
      from: _iso(start),
      to: _iso(now),
      windows,
      ...counts,
      complete: unbroken,
      cursor: { before: cursor?.checkedUntil ?? null, after },
      findings,
    };
    const { findings: _, ...logged } = pass;
    logger.info("provider reconciliation pass", logged);
    return pass;
  };
}
