/**
 * One structured log line per request: method, path (no query string, which
 * may carry tokens), status and duration.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import type { Clock } from "../../observability/clock.ts";

/** Options of {@linkcode accessLog}. */
export interface AccessLogOptions {
  clock: Clock;
}

/** Logs each request once it is answered. */
export function accessLog({ clock }: AccessLogOptions): MiddlewareHandler<AppEnv> {
  return async function accessLogMiddleware(c, next) {
    const started = clock.now();
    await next();
    const status = c.res.status;
    const fields = { method: c.req.method, path: c.req.path, status, duration_ms: clock.now() - started };
    if (status >= 500) c.var.log.error("request failed", fields);
    else c.var.log.info("request", fields);
  };
}
