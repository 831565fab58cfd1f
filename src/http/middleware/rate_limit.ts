/**
 * Rate limiting of one route: counts the request under a key (the user, the
 * client IP), answers 429 `rate_limited` with `Retry-After` when the key is
 * over its rule, and sets the `RateLimit-*` headers (IETF draft) on every
 * answer of the route. A limiter whose store is down has already allowed
 * the request (fail open): that is logged and counted here.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import { AppError } from "../../errors.ts";
import type { Clock } from "../../observability/clock.ts";
import type { Metrics } from "../../observability/metrics.ts";
import type { RateLimitDecision, RateLimiter } from "../../rate_limit/rate_limiter.ts";

/** Options of {@linkcode rateLimit}. */
export interface RateLimitOptions {
  limiter: RateLimiter;
  /** The key of the request (`user:<id>`, `ip:<address>`). */
  key: (c: Context<AppEnv>) => string;
  metrics: Metrics;
  clock: Clock;
}

function _headers(decision: RateLimitDecision, limiter: RateLimiter, now: number): Record<string, string> {
  return {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(Math.max(0, Math.ceil((decision.resetAt - now) / 1000))),
    "RateLimit-Policy": `${limiter.rule.limit};w=${limiter.rule.windowSeconds}`,
  };
}

/** Limits a route. */
export function rateLimit({ limiter, key, metrics, clock }: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const name = limiter.rule.name;
  return async function rateLimitMiddleware(c, next) {
    const decision = await limiter.limit(key(c));
    if (decision.degraded) {
      metrics.inc("rate_limit_decisions_total", { limiter: name, decision: "degraded" });
      c.var.log.warn("rate limiter unavailable: request allowed without a limit", {
        limiter: name,
        reason: decision.degraded,
      });
      return await next();
    }
    const now = clock.now();
    const headers = _headers(decision, limiter, now);
    if (!decision.allowed) {
      metrics.inc("rate_limit_decisions_total", { limiter: name, decision: "limited" });
      c.var.log.info("rate limited", { limiter: name });
      throw new AppError("rate_limited", {
        detail: `At most ${limiter.rule.limit} requests per ${limiter.rule.windowSeconds} s here; retry later`,
        retryAfter: Math.max(1, (decision.resetAt - now) / 1000),
        headers,
      });
    }
    metrics.inc("rate_limit_decisions_total", { limiter: name, decision: "allowed" });
    await next();
    for (const [header, value] of Object.entries(headers)) c.res.headers.set(header, value);
  };
}

/** The client's address: the first `X-Forwarded-For` hop behind a trusted proxy, else the connection's peer. */
export function clientIp(c: Context<AppEnv>, { trustForwardedFor }: { trustForwardedFor: boolean }): string {
  if (trustForwardedFor) {
    const first = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (first) return first;
  }
  // Deno.serve(app.fetch) hands its ServeHandlerInfo to Hono as `env`.
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return info?.remoteAddr?.hostname ?? "unknown";
}
