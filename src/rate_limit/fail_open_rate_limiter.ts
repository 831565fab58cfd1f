/**
 * Fail open: a rate limiter whose store is down or slow lets the request
 * through, says so (`degraded` on the decision, for a log line and a metric)
 * and never makes the caller wait longer than `timeoutMs`. Rate limiting
 * protects the provider's quota; refusing payments because Redis is down
 * would be the worse failure.
 *
 * @module
 */
import { systemTimers, type Timers } from "../observability/clock.ts";
import type { RateLimitDecision, RateLimiter } from "./rate_limiter.ts";

/** Options of {@linkcode failOpenRateLimiter}. */
export interface FailOpenOptions {
  /** Longest wait for the store before allowing. */
  timeoutMs: number;
  /** @default systemTimers */
  timers?: Timers;
}

/**
 * Wraps `inner` so that it never rejects and never waits past `timeoutMs`.
 *
 * @example
 * ```ts
 * const limiter = failOpenRateLimiter(createUpstashRateLimiter(rule, { redis, prefix }), { timeoutMs: 250 });
 * ```
 */
export function failOpenRateLimiter(
  inner: RateLimiter,
  { timeoutMs, timers = systemTimers }: FailOpenOptions,
): RateLimiter {
  const open = (reason: string): RateLimitDecision => ({
    allowed: true,
    limit: inner.rule.limit,
    remaining: inner.rule.limit,
    resetAt: 0,
    degraded: reason,
  });
  return {
    rule: inner.rule,
    limit(key) {
      return new Promise<RateLimitDecision>((resolve) => {
        const timer = timers.setTimeout(() => resolve(open(`no answer within ${timeoutMs} ms`)), timeoutMs);
        // A late answer or rejection after the timeout is ignored (the promise is settled), never unhandled.
        inner.limit(key).then(
          (decision) => {
            timers.clearTimeout(timer);
            resolve(decision);
          },
          (error) => {
            timers.clearTimeout(timer);
            resolve(open(error instanceof Error ? error.message : String(error)));
          },
        );
      });
    },
  };
}
