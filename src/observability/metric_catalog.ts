/**
 * Every metric the service exports, declared once: its type, its help text
 * and its label names (Prometheus needs the label names up front, and a
 * catalog keeps the names, their meaning and the docs in one place). A name
 * used without being declared here is still exported, with the labels of its
 * first use and a help text saying so.
 *
 * @module
 */

/** One exported metric. */
export interface MetricSpec {
  type: "counter" | "histogram";
  help: string;
  labels: readonly string[];
  /** Histogram buckets in seconds. @default prom-client's (5 ms to 10 s) */
  buckets?: readonly number[];
}

/** Latency buckets for calls that usually take milliseconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The catalog, by metric name. */
export const METRIC_CATALOG = {
  // --- HTTP
  http_requests_total: {
    type: "counter",
    help: "HTTP requests answered, by method, route pattern (unmatched for a 404/405) and status",
    labels: ["method", "route", "status"],
  },
  http_request_duration_seconds: {
    type: "histogram",
    help: "Time to answer an HTTP request, by method, route pattern and status",
    labels: ["method", "route", "status"],
    buckets: LATENCY_BUCKETS,
  },
  // --- database RPCs (supabase-js → PostgREST / the local RPC gateway)
  db_rpc_requests_total: { type: "counter", help: "Database RPC round trips, by SQL function", labels: ["fn"] },
  db_rpc_duration_seconds: {
    type: "histogram",
    help: "Time of one database RPC round trip, by SQL function and HTTP status (error when no answer)",
    labels: ["fn", "status"],
    buckets: LATENCY_BUCKETS,
  },
  redis_rest_requests_total: {
    type: "counter",
    help: "Upstash REST round trips seen by the local Upstash proxy (local mode only)",
    labels: [],
  },
  // --- payments
  payment_transitions_total: {
    type: "counter",
    help: "Payments entering a state (pending, processing, completed, failed, refunded), by previous state and actor",
    labels: ["from", "to", "actor"],
  },
  payments_credit_attempts_total: {
    type: "counter",
    help: "credit_user calls after a provider-confirmed success, by actor and outcome",
    labels: ["actor", "outcome"],
  },
  payments_failed_total: { type: "counter", help: "Payments failed, by actor", labels: ["actor"] },
  payments_late_success_total: {
    type: "counter",
    help: "Failed payments credited after all (failed → processing → completed), by actor",
    labels: ["actor"],
  },
  ledger_credits_total: { type: "counter", help: "Wallet credits written, by currency", labels: ["currency"] },
  ledger_credited_minor_units_total: {
    type: "counter",
    help: "Amount credited to wallets in minor units, by currency",
    labels: ["currency"],
  },
  refunds_total: {
    type: "counter",
    help: "Refunds started (pending) and settled, by state and actor",
    labels: ["state", "actor"],
  },
  wallet_debits_total: { type: "counter", help: "Wallet debits written, by currency", labels: ["currency"] },
  ledger_invariant_violations_total: {
    type: "counter",
    help: "Broken ledger invariants found by reconciliation (check_ledger_invariants); alert on any",
    labels: [],
  },
  provider_reconciliation_transactions_total: {
    type: "counter",
    help: "Provider successes checked by the provider-window pass, by provider and finding",
    labels: ["provider", "finding"],
  },
  provider_reconciliation_passes_total: {
    type: "counter",
    help: "Provider-window passes, by provider and result (complete, incomplete, listing_failed)",
    labels: ["provider", "result"],
  },
  idempotency_requests_total: {
    type: "counter",
    help: "POST /v1/payments by Idempotency-Key outcome: first, replay, conflict (in flight), mismatch (reused)",
    labels: ["outcome"],
  },
  // --- webhooks
  webhooks_total: {
    type: "counter",
    help: "Provider webhooks, by provider and outcome (bad_signature for refused signatures)",
    labels: ["provider", "outcome"],
  },
  // --- lock
  lock_acquisitions_total: {
    type: "counter",
    help: "Payment lock attempts, by actor and outcome: acquired, contended (held elsewhere), degraded (Redis down)",
    labels: ["actor", "outcome"],
  },
  lock_degraded_total: {
    type: "counter",
    help: "Lock operations that went ahead without Redis (unreachable or slower than LOCK_REDIS_TIMEOUT_MS)",
    labels: [],
  },
  lock_fence_raised_total: {
    type: "counter",
    help: "Fence counters raised past the database's highest fence after Redis lost them, by actor",
    labels: ["actor"],
  },
  // --- rate limiting
  rate_limit_decisions_total: {
    type: "counter",
    help: "Rate-limit checks, by limiter and decision: allowed, limited, degraded (store down: allowed)",
    labels: ["limiter", "decision"],
  },
} as const satisfies Record<string, MetricSpec>;

/** A declared metric's name. */
export type MetricName = keyof typeof METRIC_CATALOG;
