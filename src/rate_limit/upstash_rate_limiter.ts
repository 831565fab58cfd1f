/**
 * The RateLimiter on Upstash Redis with `@upstash/ratelimit`'s sliding
 * window: one Lua script per request (`EVALSHA`), shared by every instance
 * of the service, keys under `<LOCK_PREFIX>:ratelimit:<name>:`. In local mode
 * the same client talks to the local Upstash proxy.
 *
 * It does not fail open by itself: wrap it in `failOpenRateLimiter`.
 *
 * @module
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import type { RateLimitDecision, RateLimiter, RateLimitRule } from "./rate_limiter.ts";

/** Options of {@linkcode createUpstashRateLimiter}. */
export interface UpstashRateLimiterOptions {
  redis: Redis;
  /** Key namespace, e.g. `prod` → `prod:ratelimit:initialize:<key>`. */
  prefix: string;
}

/**
 * Builds the limiter of `rule` on `redis`.
 *
 * @example
 * ```ts
 * const limiter = createUpstashRateLimiter({ name: "verify", limit: 120, windowSeconds: 60 }, { redis, prefix: "prod" });
 * ```
 */
export function createUpstashRateLimiter(
  rule: RateLimitRule,
  { redis, prefix }: UpstashRateLimiterOptions,
): RateLimiter {
  const ratelimit = new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowSeconds} s`),
    prefix: `${prefix}:ratelimit:${rule.name}`,
    analytics: false,
    // Callers already blocked skip Redis until their window resets (per instance).
    ephemeralCache: new Map(),
    // No timeout of its own: its race leaves the Redis call's rejection unhandled. failOpenRateLimiter times out.
    timeout: 0,
  });
  return {
    rule,
    async limit(key): Promise<RateLimitDecision> {
      const { success, limit, remaining, reset } = await ratelimit.limit(key);
      return { allowed: success, limit, remaining: Math.max(0, remaining), resetAt: reset };
    },
  };
}
