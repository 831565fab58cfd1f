/**
 * Keeps the service available when the lock store is not. The lock is for
 * efficiency; correctness is held by the database (row locks, state checks,
 * fences), so when Redis errors or is slow the caller proceeds unlocked with a
 * degraded handle (`fence: null`) instead of failing the payment. Every
 * degradation is reported through `onDegraded` (the app logs it and counts it).
 *
 * @module
 */
import { systemTimers, type Timers } from "../observability/clock.ts";
import { type AcquireOptions, DEFAULT_WAIT_MS, type LockHandle, type LockService } from "./lock_service.ts";

/** The `key` of a degradation of {@linkcode LockService.advanceFence}: it concerns the fencing counter, not a lock. */
export const FENCE_COUNTER_KEY = "fence";

/** What `onDegraded` receives. */
export interface DegradedEvent {
  /** The lock key the caller asked for, or {@linkcode FENCE_COUNTER_KEY} for `advanceFence`. */
  key: string;
  /** Why the lock store was bypassed: the error text, or the timeout. */
  reason: string;
}

/** Options of {@linkcode createDegradingLockService}. */
export interface DegradingLockServiceOptions {
  /**
   * How long the inner service may take to answer, in milliseconds. An acquire
   * gets its own `waitMs` on top: waiting for a contended lock is an answer
   * in progress, not a failure.
   * @default 250
   */
  timeoutMs?: number;
  /** Called on every degradation; errors it throws are ignored. */
  onDegraded?: (event: DegradedEvent) => void;
  /**
   * Timers of the timeouts and of `drain`'s bound.
   * @default systemTimers
   */
  timers?: Timers;
}

/** A LockService that degrades instead of failing. */
export interface DegradingLockService extends LockService {
  /**
   * Waits for every inner call abandoned after a timeout to settle (a lock
   * obtained too late is released on the way). For graceful shutdown and tests.
   *
   * @param maxWaitMs Upper bound on the wait.
   * @default maxWaitMs 5_000
   * @returns true when nothing is pending any more, false when `maxWaitMs` ran out first.
   */
  drain(maxWaitMs?: number): Promise<boolean>;
}

const _TIMED_OUT = Symbol("timed out");

function _reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A handle that protects nothing: extend and release succeed without doing anything. */
function _degradedHandle(key: string): LockHandle {
  return {
    key,
    fence: null,
    degraded: true,
    extend: () => Promise.resolve(true),
    release: () => Promise.resolve(true),
  };
}

/**
 * Wraps `inner` so that a throwing or slow lock store yields a degraded handle.
 *
 * - `acquire`: inner throws, or has not answered within `waitMs + timeoutMs`
 *   → degraded handle and `onDegraded`. A contended result (null) passes through.
 * - `extend`/`release` of a real handle: inner throws or exceeds `timeoutMs`
 *   → false (the lease may be lost; the lease ends it anyway) and `onDegraded`.
 * - `advanceFence`: inner throws or exceeds `timeoutMs` → resolves anyway and
 *   `onDegraded` (key {@linkcode FENCE_COUNTER_KEY}). While the store is down
 *   no fence is handed out (handles are degraded, `fence: null`), so there is
 *   nothing to protect; the next `stale_fence` once it is back asks again.
 * - `status`: inner throws or exceeds `timeoutMs` → `{ ok: false, detail }`.
 * - A `RangeError` (invalid key, lease or floor: a caller bug, not an outage) is rethrown.
 *
 * @param inner The real lock service.
 * @param options Timeout, the degradation callback and the timers.
 * @returns The wrapped service, with `drain()`.
 *
 * @example
 * ```ts
 * const locks = createDegradingLockService(createUpstashLockService({ redis, prefix: "dev" }), {
 *   timeoutMs: 250,
 *   onDegraded: ({ key, reason }) => {
 *     log.warn("lock degraded", { key, reason });
 *     metrics.inc("lock_degraded_total");
 *   },
 * });
 * const handle = await locks.acquire("payment:ref_123"); // never throws because Redis is down
 * ```
 */
export function createDegradingLockService(
  inner: LockService,
  { timeoutMs = 250, onDegraded, timers = systemTimers }: DegradingLockServiceOptions = {},
): DegradingLockService {
  const abandoned = new Set<Promise<unknown>>();

  function report(key: string, reason: string): void {
    try {
      onDegraded?.({ key, reason });
    } catch {
      // A failing logger or metric must not turn degradation into an outage.
    }
  }

  /**
   * Races `operation` against `ms`. On timeout the operation keeps running;
   * it is tracked for drain() and its late result handed to `late`.
   */
  async function bounded<T>(
    operation: Promise<T>,
    ms: number,
    late: (value: T) => Promise<unknown> = () => Promise.resolve(),
  ): Promise<T | typeof _TIMED_OUT> {
    let timer: number | undefined;
    const timeout = new Promise<typeof _TIMED_OUT>((resolve) => {
      timer = timers.setTimeout(() => resolve(_TIMED_OUT), ms);
    });
    try {
      const winner = await Promise.race([operation, timeout]);
      if (winner === _TIMED_OUT) {
        const settled: Promise<unknown> = operation.then(late).catch(() => {}).finally(() => abandoned.delete(settled));
        abandoned.add(settled);
      }
      return winner;
    } finally {
      timers.clearTimeout(timer);
    }
  }

  function wrap(handle: LockHandle): LockHandle {
    async function guarded(name: string, call: () => Promise<boolean>): Promise<boolean> {
      try {
        const result = await bounded(call(), timeoutMs);
        if (result !== _TIMED_OUT) return result;
        report(handle.key, `${name} timed out after ${timeoutMs} ms`);
      } catch (error) {
        if (error instanceof RangeError) throw error;
        report(handle.key, `${name} failed: ${_reason(error)}`);
      }
      return false;
    }
    return {
      key: handle.key,
      fence: handle.fence,
      degraded: handle.degraded,
      extend: (ms) => guarded("extend", () => handle.extend(ms)),
      release: () => guarded("release", () => handle.release()),
    };
  }

  return {
    async acquire(key: string, options: AcquireOptions = {}): Promise<LockHandle | null> {
      const budget = (options.waitMs ?? DEFAULT_WAIT_MS) + timeoutMs;
      try {
        // A lock obtained after we gave up would block others for a whole lease: give it back.
        const result = await bounded(inner.acquire(key, options), budget, async (late) => await late?.release());
        if (result === null) return null;
        if (result !== _TIMED_OUT) return wrap(result);
        report(key, `acquire timed out after ${budget} ms`);
      } catch (error) {
        if (error instanceof RangeError) throw error;
        report(key, `acquire failed: ${_reason(error)}`);
      }
      return _degradedHandle(key);
    },
    async advanceFence(floor: number): Promise<void> {
      try {
        const result = await bounded(inner.advanceFence(floor), timeoutMs);
        if (result !== _TIMED_OUT) return;
        report(FENCE_COUNTER_KEY, `advanceFence timed out after ${timeoutMs} ms`);
      } catch (error) {
        if (error instanceof RangeError) throw error;
        report(FENCE_COUNTER_KEY, `advanceFence failed: ${_reason(error)}`);
      }
    },
    async status(): Promise<{ ok: boolean; detail?: string }> {
      try {
        const result = await bounded(inner.status(), timeoutMs);
        if (result !== _TIMED_OUT) return result;
        return { ok: false, detail: `degraded: lock store did not answer within ${timeoutMs} ms` };
      } catch (error) {
        return { ok: false, detail: `degraded: ${_reason(error)}` };
      }
    },
    async drain(maxWaitMs = 5_000): Promise<boolean> {
      let timer: number | undefined;
      let expired = false;
      const deadline = new Promise<void>((resolve) => {
        timer = timers.setTimeout(() => {
          expired = true;
          resolve();
        }, maxWaitMs);
      });
      try {
        // Bounded: each pass awaits what was pending then; new entries only come from new calls.
        for (let pass = 0; pass < 100 && abandoned.size > 0 && !expired; pass++) {
          await Promise.race([Promise.all(abandoned), deadline]);
        }
        return abandoned.size === 0;
      } finally {
        timers.clearTimeout(timer);
      }
    },
  };
}
