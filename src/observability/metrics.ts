/**
 * The service's metrics on `prom-client`: counters and histograms in a
 * registry of their own (never the global one, so two apps in one process,
 * as in tests, do not share counts), rendered in the Prometheus text format
 * by `GET /metrics`. Names, help texts and labels come from
 * {@linkcode METRIC_CATALOG}.
 *
 * Recording a metric never throws: a metrics mistake (an undeclared label)
 * must not fail a payment that already settled. Such a sample is dropped and
 * counted in `metrics_dropped_total`.
 *
 * @module
 */
import { Counter, Histogram, Registry } from "prom-client";
import { METRIC_CATALOG, type MetricSpec } from "./metric_catalog.ts";

/** Counters and histograms keyed by name and label set. */
export interface Metrics {
  /** Adds `by` (default 1) to the counter `name` with `labels`. */
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  /** Records one observation (seconds, for the `_seconds` histograms) of the histogram `name`. */
  observe(name: string, labels: Record<string, string>, value: number): void;
  /** The current value of a counter (0 when never incremented); tests and diagnostics. */
  get(name: string, labels?: Record<string, string>): number;
  /** Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** The `Content-Type` of {@linkcode Metrics.render}'s output. */
  readonly contentType: string;
}

function _labelKey(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

/**
 * Creates an empty registry holding every declared metric.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * metrics.inc("webhooks_total", { provider: "paystack", outcome: "credited" });
 * const text = await metrics.render();
 * ```
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const counters = new Map<string, Counter>();
  const histograms = new Map<string, Histogram>();
  // Counter values for `get()`: prom-client only reads them asynchronously.
  const values = new Map<string, number>();
  const dropped = new Counter({
    name: "metrics_dropped_total",
    help: "Samples dropped because their labels did not match the metric's declaration",
    labelNames: ["name"],
    registers: [registry],
  });

  const declare = (name: string, spec: MetricSpec) => {
    const common = { name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
    if (spec.type === "counter") counters.set(name, new Counter(common));
    else histograms.set(name, new Histogram({ ...common, ...(spec.buckets ? { buckets: [...spec.buckets] } : {}) }));
  };
  for (const [name, spec] of Object.entries(METRIC_CATALOG)) declare(name, spec);

  const record = (name: string, action: () => void) => {
    try {
      action();
    } catch {
      dropped.inc({ name });
    }
  };

  return {
    inc(name, labels = {}, by = 1) {
      record(name, () => {
        if (!counters.has(name) && !histograms.has(name)) {
          declare(name, { type: "counter", help: `${name} (not in the metric catalog)`, labels: Object.keys(labels) });
        }
        const counter = counters.get(name);
        if (!counter) throw new TypeError(`${name} is not a counter`);
        counter.inc(labels, by);
        const key = `${name}|${_labelKey(labels)}`;
        values.set(key, (values.get(key) ?? 0) + by);
      });
    },
    observe(name, labels, value) {
      record(name, () => {
        if (!counters.has(name) && !histograms.has(name)) {
          declare(name, {
            type: "histogram",
            help: `${name} (not in the metric catalog)`,
            labels: Object.keys(labels),
          });
        }
        const histogram = histograms.get(name);
        if (!histogram) throw new TypeError(`${name} is not a histogram`);
        histogram.observe(labels, value);
      });
    },
    get(name, labels = {}) {
      return values.get(`${name}|${_labelKey(labels)}`) ?? 0;
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
