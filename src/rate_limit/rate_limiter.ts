/**
 * The RateLimiter port: "may this caller make one more request of this kind
 * now?". Adapters: Upstash Redis (`upstash_rate_limiter.ts`, local and cloud
 * modes, shared by every instance) and in memory (`memory_rate_limiter.ts`:
 * embedded mode, and the per-instance webhook limit). `fail_open_rate_limiter.ts` wraps the Redis
 * one so that Redis being down never blocks a payment.
 *
 * @module
 */

/** A rule: at most `limit` requests per `windowSeconds` per key. */
export interface RateLimitRule {
  /** The limiter's name, in metrics and keys (e.g. `initialize`). */
  name: string;
  limit: number;
  windowSeconds: number;
}

/** The answer for one request. */
export interface RateLimitDecision {
  /** The request may go ahead. */
  allowed: boolean;
  /** The rule's limit. */
  limit: number;
  /** Requests left in the window after this one. */
  remaining: number;
  /** When the window resets (epoch milliseconds). */
  resetAt: number;
  /**
   * Set when the store could not be asked (unreachable, too slow) and the
   * request was allowed anyway: why. Fail open: rate limiting protects the
   * provider's quota, never at the price of refusing a payment.
   */
  degraded?: string;
}

/** One rule's limiter. */
export interface RateLimiter {
  readonly rule: RateLimitRule;
  /** Counts one request of `key` and answers whether it may go ahead. */
  limit(key: string): Promise<RateLimitDecision>;
}
