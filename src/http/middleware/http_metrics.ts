/**
 * Request counts and latency per route: `http_requests_total` and
 * `http_request_duration_seconds`, labelled with the method, the route
 * pattern (`/v1/payments/:reference`, never the concrete path, which would
 * make a series per payment) and the status.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app_env.ts";
import type { Metrics } from "../../observability/metrics.ts";
import { systemTimers, type Timers } from "../../observability/clock.ts";

/** Options of {@linkcode httpMetrics}. */
export interface HttpMetricsOptions {
  metrics: Metrics;
  /** Removed from route patterns, so one dashboard fits every deployment. @default "" */
  basePath?: string;
  /** Monotonic time. @default systemTimers */
  timers?: Pick<Timers, "now">;
}

/**
 * The pattern of the endpoint that matched `c`'s request: the last matched
 * route that is not middleware; `unmatched` for a 404 or 405.
 */
export function routePattern(c: Context, basePath = ""): string {
  const endpoint = matchedRoutes(c).findLast((route) => route.method !== "ALL");
  if (!endpoint) return "unmatched";
  const path = basePath && endpoint.path.startsWith(basePath) ? endpoint.path.slice(basePath.length) : endpoint.path;
  return path || "/";
}

/** Counts and times every request once it is answered. */
export function httpMetrics(
  { metrics, basePath = "", timers = systemTimers }: HttpMetricsOptions,
): MiddlewareHandler<AppEnv> {
  const prefix = basePath === "/" ? "" : basePath.replace(/\/$/, "");
  return async function httpMetricsMiddleware(c, next) {
    const started = timers.now();
    try {
      await next();
    } finally {
      const labels = { method: c.req.method, route: routePattern(c, prefix), status: String(c.res.status) };
      metrics.inc("http_requests_total", labels);
      metrics.observe("http_request_duration_seconds", labels, (timers.now() - started) / 1000);
    }
  };
}
