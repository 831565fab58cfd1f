/**
 * Runs work under a lock: acquire, keep the lease alive while the work runs,
 * always release.
 *
 * @module
 */
import { systemTimers, type Timers } from "../observability/clock.ts";
import { type AcquireOptions, DEFAULT_LEASE_MS, type LockHandle, type LockService } from "./lock_service.ts";

/** Options of {@linkcode withLock}. */
export interface WithLockOptions extends AcquireOptions {
  /**
   * Pause between heartbeats, each renewing the lease to `leaseMs`. A third of
   * the lease leaves two more chances before a slow store lets it lapse.
   * @default Math.max(1, Math.floor(leaseMs / 3))
   */
  heartbeatMs?: number;
  /**
   * Called once when a heartbeat finds the lock gone (extend answered false or
   * threw); heartbeats stop. The work keeps running: the fence is what stops a
   * stale holder from writing.
   */
  onLost?: (event: { key: string; reason: string }) => void;
  /**
   * Timers of the heartbeat. (Waiting for a contended lock is the lock
   * service's, with the timers it was built with.)
   * @default systemTimers
   */
  timers?: Timers;
}

/** Outcome of {@linkcode withLock}. */
export type WithLockResult<T> = { acquired: true; value: T } | { acquired: false };

/**
 * Acquires `key`, runs `fn` with the handle while a heartbeat extends the
 * lease, and releases in `finally`. The heartbeat is stopped (and an extend
 * in flight awaited) before the release, so no timer outlives the call.
 *
 * If `fn` throws, its error is rethrown after the release (a release error is
 * then dropped: the lease ends the lock anyway). If `fn` succeeds and the
 * release throws, the release error is rethrown.
 *
 * @param locks The lock service.
 * @param key Lock key, e.g. `payment:<reference>`.
 * @param fn The work; receives the handle (pass `handle.fence` to the database).
 * @param options Lease, bounded wait, heartbeat period, lost-lease callback, heartbeat timers.
 * @returns `{ acquired: true, value }`, or `{ acquired: false }` when the lock stayed contended for `waitMs`.
 *
 * @example
 * ```ts
 * const outcome = await withLock(locks, `payment:${reference}`, (lock) => creditPayment(reference, lock.fence));
 * if (!outcome.acquired) return retryLater();
 * ```
 */
export async function withLock<T>(
  locks: LockService,
  key: string,
  fn: (handle: LockHandle) => Promise<T>,
  options: WithLockOptions = {},
): Promise<WithLockResult<T>> {
  const { heartbeatMs, onLost, timers = systemTimers, ...acquireOptions } = options;
  const handle = await locks.acquire(key, acquireOptions);
  if (handle === null) return { acquired: false };
  const leaseMs = acquireOptions.leaseMs ?? DEFAULT_LEASE_MS;
  const heartbeat = handle.degraded
    ? undefined
    : _startHeartbeat(handle, leaseMs, heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)), onLost, timers);
  let finished = false;
  const finish = async () => {
    finished = true;
    await heartbeat?.stop();
    await handle.release();
  };
  try {
    const value = await fn(handle);
    await finish();
    return { acquired: true, value };
  } finally {
    // fn threw: release anyway; fn's error is the one worth reporting.
    if (!finished) await finish().catch(() => {});
  }
}

/** A running heartbeat: self-rescheduling, so two extends never overlap. */
function _startHeartbeat(
  handle: LockHandle,
  leaseMs: number,
  periodMs: number,
  onLost: WithLockOptions["onLost"],
  timers: Timers,
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: number | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const lost = (reason: string) => {
    if (stopped) return; // the work finished while this extend was in flight: nothing was lost
    stopped = true;
    try {
      onLost?.({ key: handle.key, reason });
    } catch {
      // A throwing callback must not become an unhandled rejection in a timer.
    }
  };

  const beat = async () => {
    try {
      if (!(await handle.extend(leaseMs))) return lost("lock no longer held");
    } catch (error) {
      return lost(`extend failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    schedule();
  };

  function schedule(): void {
    if (stopped) return;
    timer = timers.setTimeout(() => {
      inFlight = beat();
    }, periodMs);
  }

  schedule();
  return {
    async stop(): Promise<void> {
      stopped = true;
      timers.clearTimeout(timer);
      await inFlight;
    },
  };
}
