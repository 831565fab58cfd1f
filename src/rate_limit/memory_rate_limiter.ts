/**
 * The in-memory RateLimiter (embedded mode's per-user limits; in every mode
 * the per-IP webhook limit, which each instance keeps on its own), with the
 * sliding-window approximation Upstash's `slidingWindow` uses: the count of
 * the current fixed window plus the previous window's count weighted by how
 * much of it still overlaps the sliding window. Time comes from a clock.
 *
 * @module
 */
import type { Clock } from "../observability/clock.ts";
import type { RateLimitDecision, RateLimiter, RateLimitRule } from "./rate_limiter.ts";

/** Options of {@linkcode createMemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  clock: Clock;
  /** Keys kept at most (oldest windows dropped first), so a flood of callers cannot grow memory. @default 100000 */
  maxKeys?: number;
}

/**
 * Builds an in-memory limiter for `rule`.
 *
 * @example
 * ```ts
 * const limiter = createMemoryRateLimiter({ name: "initialize", limit: 120, windowSeconds: 60 }, { clock });
 * const { allowed } = await limiter.limit(`user:${userId}`);
 * ```
 */
export function createMemoryRateLimiter(
  rule: RateLimitRule,
  { clock, maxKeys = 100_000 }: MemoryRateLimiterOptions,
): RateLimiter {
  const windowMs = rule.windowSeconds * 1000;
  // key → counts of the current and the previous fixed window
  const windows = new Map<string, { window: number; current: number; previous: number }>();
  return {
    rule,
    limit(key): Promise<RateLimitDecision> {
      const now = clock.now();
      const window = Math.floor(now / windowMs);
      let entry = windows.get(key);
      if (!entry || entry.window < window - 1) entry = { window, current: 0, previous: 0 };
      else if (entry.window === window - 1) entry = { window, current: 0, previous: entry.current };
      windows.delete(key); // re-inserted below: the Map's order is least recently used first
      const overlap = 1 - (now - window * windowMs) / windowMs;
      const used = Math.floor(entry.previous * overlap) + entry.current;
      const allowed = used < rule.limit;
      if (allowed) entry.current++;
      windows.set(key, entry);
      if (windows.size > maxKeys) windows.delete(windows.keys().next().value!);
      return Promise.resolve({
        allowed,
        limit: rule.limit,
        remaining: Math.max(0, rule.limit - used - (allowed ? 1 : 0)),
        resetAt: (window + 1) * windowMs,
      });
    },
  };
}
