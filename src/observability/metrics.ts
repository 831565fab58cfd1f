/**
 * A tiny in-process metrics registry: monotonic counters with labels,
 * rendered in the Prometheus text format. Enough for the service's own
 * signals (lock degradations, credits, webhook outcomes) without a
 * dependency.
 *
 * @module
 */

/** Counters keyed by name and label set. */
export interface Metrics {
  /** Adds `by` (default 1) to the counter `name` with `labels`. */
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  /** The current value of a counter (0 when never incremented). */
  get(name: string, labels?: Record<string, string>): number;
  /** Prometheus text exposition of every counter. */
  render(): string;
}

/** Creates an empty registry. */
export function createMetrics(): Metrics {
  const counters = new Map<string, Map<string, number>>();
  const key = (labels: Record<string, string>) =>
    Object.keys(labels).sort().map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, "_")}"`).join(",");
  return {
    inc(name, labels = {}, by = 1) {
      const series = counters.get(name) ?? new Map<string, number>();
      counters.set(name, series);
      const k = key(labels);
      series.set(k, (series.get(k) ?? 0) + by);
    },
    get(name, labels = {}) {
      return counters.get(name)?.get(key(labels)) ?? 0;
    },
    render() {
      const lines: string[] = [];
      for (const [name, series] of [...counters].sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`# TYPE ${name} counter`);
        for (const [labels, value] of series) lines.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
      }
      return lines.join("\n") + "\n";
    },
  };
}
