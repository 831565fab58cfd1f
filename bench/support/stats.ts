/**
 * Summaries of a load run: rate, percentiles, ratios.
 *
 * @module
 */

/** A load run reduced to the figures the report shows. */
export interface RunSummary {
  /** Operations that completed (successfully or not). */
  count: number;
  /** Operations that failed (exception, or an unexpected status). */
  errors: number;
  /** Completed operations per second of wall time. */
  perSecond: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th-percentile latency, ms. */
  p99: number;
  /** Wall time, ms. */
  wallMs: number;
}

/** The `p`-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Summarises latencies measured over `wallMs`. */
export function summarize(latencies: readonly number[], wallMs: number, errors = 0): RunSummary {
  return {
    count: latencies.length,
    errors,
    perSecond: wallMs > 0 ? (latencies.length / wallMs) * 1000 : NaN,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    wallMs,
  };
}

/** `a / b`, NaN when either is missing. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

/** A number for a table: fixed digits, "—" when missing. */
export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** The median of a few repeated figures (the run's noise filter). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** One timed run's raw figures. */
export interface RawRun {
  latencies: readonly number[];
  wallMs: number;
  errors: number;
}

/**
 * Folds repeated runs of one measurement: the rate is the median of the
 * runs' rates (a noisy neighbour slows one run, not the figure), latencies
 * are pooled.
 */
export function combineRuns(runs: readonly RawRun[]): RunSummary {
  const latencies = runs.flatMap((r) => r.latencies);
  const wallMs = runs.reduce((sum, r) => sum + r.wallMs, 0);
  return {
    ...summarize(latencies, wallMs, runs.reduce((sum, r) => sum + r.errors, 0)),
    perSecond: median(runs.map((r) => (r.wallMs > 0 ? (r.latencies.length / r.wallMs) * 1000 : NaN))),
  };
}
