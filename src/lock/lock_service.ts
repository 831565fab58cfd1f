/**
 * The LockService port: a lease lock with fencing tokens.
 *
 * The lock exists for efficiency (concurrent edge instances working on one
 * payment ask the provider once and do not stampede the database). It is not
 * what keeps money correct: a paused holder can outlive its lease, so every
 * write carries the handle's `fence` and the SQL functions refuse a fence
 * smaller than the last one they saw (Kleppmann, "How to do distributed locking").
 *
 * The fence rule, and the hazard it brings. Fences come from one counter in
 * the lock store (Redis `INCR`), while the database keeps, per payment, the
 * highest fence it has seen (`payment_logs.last_fence`) and refuses a smaller
 * one (SQLSTATE PM003 `stale_fence`). The counter is the weaker of the two:
 * a flushed or brand-new Upstash database, an evicted counter key, a
 * `LOCK_PREFIX` change, or an embedded-mode restart (the in-memory counter
 * starts again at 0) sends it back to 0, and from then on every fence is stale
 * for every payment already touched: those payments could never settle again.
 * The database is the source of truth, so the counter is repaired from it:
 * on `stale_fence` the caller reads the highest `last_fence` the database
 * holds and calls {@linkcode LockService.advanceFence} with it, then retries
 * once. That call only ever raises the counter, so it is safe to make at any
 * time, from any instance, concurrently with acquisitions.
 *
 * Time: adapters and `withLock` take {@linkcode Timers} (default: the real
 * ones) for every wait, timeout and heartbeat, so tests drive them with a
 * manual clock instead of sleeping.
 *
 * Adapters: `upstash_lock_service.ts` (Upstash Redis / the local proxy),
 * `memory_lock_service.ts` (embedded mode), and `degrading_lock_service.ts`,
 * which keeps the service available when Redis is not.
 *
 * @module
 */
import { systemTimers, type Timers } from "../observability/clock.ts";

/** Options of {@linkcode LockService.acquire}. */
export interface AcquireOptions {
  /**
   * Lease in milliseconds: the lock frees itself this long after acquisition
   * unless extended. A positive integer.
   * @default 10_000
   */
  leaseMs?: number;
  /**
   * Total time to keep retrying while another holder has the lock, in
   * milliseconds. `0` makes a single attempt.
   * @default 1_000
   */
  waitMs?: number;
}

/** An acquired lock. */
export interface LockHandle {
  /** The key the caller passed to `acquire` (e.g. `payment:<reference>`). */
  readonly key: string;
  /** Fencing token, strictly increasing across all acquisitions (one Redis INCR counter); null when the lock is degraded (Redis unavailable). */
  readonly fence: number | null;
  /** True when the lock could not be taken because the lock store is unavailable: the caller proceeds unlocked. */
  readonly degraded: boolean;
  /**
   * Renews the lease: the lock now expires `ms` milliseconds after this call
   * (the time left is replaced, not added to), at millisecond precision.
   *
   * @param ms New lease in milliseconds, a positive integer.
   * @returns false if the lock is no longer held by this handle.
   */
  extend(ms: number): Promise<boolean>;
  /**
   * Deletes the lock if, and only if, this handle still holds it.
   *
   * @returns false if the lock was not held (expired, or taken by another holder).
   */
  release(): Promise<boolean>;
}

/** A distributed lock with fencing tokens. */
export interface LockService {
  /**
   * Takes the lock on `key`, retrying with backoff while another holder has it.
   *
   * @param key Caller's lock name, e.g. `payment:<reference>`.
   * @param options Lease and bounded wait.
   * @returns The handle, or null = not obtained within waitMs (contended).
   */
  acquire(key: string, options?: AcquireOptions): Promise<LockHandle | null>;
  /**
   * Makes every fence handed out from now on strictly greater than `floor`:
   * the counter becomes max(counter, floor), atomically. It never lowers the
   * counter, so concurrent calls and acquisitions stay strictly increasing.
   *
   * Why: the counter can be lost (flush, new database, eviction, prefix
   * change, embedded restart) while the database still holds the fences it
   * saw; a caller refused with `stale_fence` passes the database's highest
   * `last_fence` here and retries (see the module documentation).
   *
   * @param floor A fence the caller knows was handed out: a non-negative safe integer.
   * @throws {RangeError} When `floor` is not a non-negative safe integer.
   *
   * @example
   * ```ts
   * // credit_user refused our fence with stale_fence: raise the counter past the
   * // highest last_fence the database holds, then retry once with a new lock.
   * await locks.advanceFence(highestLastFence);
   * ```
   */
  advanceFence(floor: number): Promise<void>;
  /** For readiness: "ok" | "degraded" with reason. */
  status(): Promise<{ ok: boolean; detail?: string }>;
}

/** Default lease of {@linkcode AcquireOptions.leaseMs}. */
export const DEFAULT_LEASE_MS = 10_000;

/** Default bounded wait of {@linkcode AcquireOptions.waitMs}. */
export const DEFAULT_WAIT_MS = 1_000;

/**
 * Validates a duration in milliseconds: Redis' PX/PEXPIRE take positive integers only.
 *
 * @param name What the value is, for the error message.
 * @param ms The value.
 * @returns `ms`, unchanged.
 * @throws {RangeError} When `ms` is not a positive safe integer.
 */
export function assertLeaseMs(name: string, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new RangeError(`Cannot use ${name} ${ms}: expected a positive integer number of milliseconds`);
  }
  return ms;
}

/**
 * Validates a fence floor: the counter holds integers, and Lua numbers are exact up to 2^53.
 *
 * @param floor The value.
 * @returns `floor`, unchanged.
 * @throws {RangeError} When `floor` is not a non-negative safe integer.
 */
export function assertFenceFloor(floor: number): number {
  if (!Number.isSafeInteger(floor) || floor < 0) {
    throw new RangeError(`Cannot advance the fence to ${floor}: expected a non-negative safe integer`);
  }
  return floor;
}

/**
 * Validates a wait budget in milliseconds (zero allowed).
 *
 * @param ms The value.
 * @returns `ms`, unchanged.
 * @throws {RangeError} When `ms` is negative or not finite.
 */
export function assertWaitMs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`Cannot use waitMs ${ms}: expected a non-negative number of milliseconds`);
  }
  return ms;
}

/** Longest pause between two acquisition attempts, so a freed lock is noticed quickly. */
const MAX_BACKOFF_MS = 200;
/** First pause; doubles per attempt up to {@linkcode MAX_BACKOFF_MS}. */
const BASE_BACKOFF_MS = 10;
/** Safety bound on attempts, whatever the clock does. */
const MAX_ATTEMPTS = 10_000;

/** Options of {@linkcode acquireWithBackoff}. */
export interface BackoffOptions {
  /**
   * Source of jitter in [0, 1).
   * @default Math.random
   */
  random?: () => number;
  /**
   * Clock of the deadline and the pauses.
   * @default systemTimers
   */
  timers?: Timers;
}

/**
 * Runs `attempt` until it returns a value or the `waitMs` budget is spent,
 * pausing between attempts with jittered exponential backoff (10 ms doubling
 * to 200 ms, each pause drawn from its upper half so contenders spread out).
 * The last pause is cut short at the deadline, and one last attempt is made there.
 *
 * @param attempt One try; null = contended, try again.
 * @param waitMs Total budget in milliseconds; 0 = a single attempt.
 * @param options Jitter source and timers.
 * @returns The first non-null result, or null when the budget ran out.
 *
 * @example
 * ```ts
 * const fence = await acquireWithBackoff(() => tryOnce(), 1_000);
 * ```
 */
export async function acquireWithBackoff<T>(
  attempt: () => Promise<T | null>,
  waitMs: number,
  { random = Math.random, timers = systemTimers }: BackoffOptions = {},
): Promise<T | null> {
  const deadline = timers.now() + assertWaitMs(waitMs);
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    const result = await attempt();
    if (result !== null) return result;
    const remaining = deadline - timers.now();
    if (remaining <= 0) return null;
    const cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** n);
    const pause = Math.min(remaining, cap / 2 + random() * (cap / 2));
    await new Promise<void>((resolve) => timers.setTimeout(resolve, pause));
  }
  return null;
}
