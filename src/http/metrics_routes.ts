/**
 * `GET /metrics`: the Prometheus text exposition of the service's metrics
 * (`src/observability/metrics.ts`), for the service role only (a scraper
 * sends the service-role key as its bearer token). `METRICS_ENABLED=false`
 * leaves the route out altogether.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import type { Metrics } from "../observability/metrics.ts";
import { COMMON_PROBLEMS, problemResponses, REQUEST_ID_HEADER, SERVICE_AUTH_PROBLEMS } from "./openapi_responses.ts";

const route = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Prometheus metrics",
  description: "Request counts and latency per route and status, RPC round trips and latency per SQL function, " +
    "payment transitions, credits, idempotency replays and conflicts, lock acquisitions (acquired, contended, " +
    "degraded), webhook outcomes (bad signatures included) and rate-limit decisions. Service role only; " +
    "absent when `METRICS_ENABLED=false`.",
  security: [{ serviceRole: [] }],
  responses: {
    200: {
      description: "Prometheus text format 0.0.4",
      headers: REQUEST_ID_HEADER,
      content: { "text/plain": { schema: z.string().openapi({ example: "http_requests_total{...} 1" }) } },
    },
    ...problemResponses([...SERVICE_AUTH_PROBLEMS, ...COMMON_PROBLEMS]),
  },
});

/** Builds the metrics sub-app (mounted at the root, `/metrics` behind requireServiceRole). */
export function metricsRoutes({ metrics }: { metrics: Metrics }): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(route, async (c) => c.text(await metrics.render(), 200, { "Content-Type": metrics.contentType }));
  return app;
}
