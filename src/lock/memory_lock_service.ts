/**
 * LockService in process memory, for embedded mode (one process, no Redis)
 * and tests. Same contract as the Redis adapter: a lease that frees itself,
 * a random token per acquisition for compare-and-delete, and a fencing
 * counter shared by every acquisition in the store.
 *
 * The counter lives and dies with the process: after a restart it starts at 0
 * again, below every fence the database already holds. `advanceFence` is how
 * the caller puts it back above them (see `lock_service.ts`).
 *
 * @module
 */
import { type Clock, systemClock, systemTimers, type Timers } from "../observability/clock.ts";
import {
  type AcquireOptions,
  acquireWithBackoff,
  assertFenceFloor,
  assertLeaseMs,
  DEFAULT_LEASE_MS,
  DEFAULT_WAIT_MS,
  type LockHandle,
  type LockService,
} from "./lock_service.ts";

/** Above this many entries, an acquire sweeps out expired ones so abandoned keys cannot grow the map forever. */
const SWEEP_THRESHOLD = 1_000;

/** One held lock in a {@linkcode MemoryLockStore}. */
export interface MemoryLockEntry {
  /** Random token of the acquisition that holds it. */
  token: string;
  /** Clock time (ms) at which the lease ends. */
  expiresAt: number;
}

/** Runs synchronous work as a promise, so a throw becomes a rejection like the Redis adapter's. */
function _settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

/**
 * The shared state of in-memory locks: what Redis is for the Redis adapter.
 * Give one store to several services to model several instances of the app.
 */
export class MemoryLockStore {
  /** Held locks by key; an entry past `expiresAt` is free. */
  readonly entries: Map<string, MemoryLockEntry> = new Map();
  /** Last fencing token handed out. */
  fence = 0;
}

/** Options of {@linkcode createMemoryLockService}. */
export interface MemoryLockServiceOptions {
  /**
   * Time source for lease expiry.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Timers for the pauses between contended attempts. Tests pass the same
   * manual clock as `clock` and `timers`, so leases run out and waiting
   * contenders retry on one timeline they advance by hand.
   * @default systemTimers
   */
  timers?: Timers;
  /**
   * State shared with other services.
   * @default a new MemoryLockStore
   */
  store?: MemoryLockStore;
}

/**
 * Creates an in-process LockService.
 *
 * @param options Clock, timers and shared store.
 * @returns The service; `status()` is always ok.
 * @throws {RangeError} From `acquire`/`extend`, for an empty key or a non-integer lease; from
 * `advanceFence`, for a floor that is not a non-negative safe integer.
 *
 * @example
 * ```ts
 * const locks = createMemoryLockService();
 * const handle = await locks.acquire("payment:ref_123", { leaseMs: 5_000, waitMs: 0 });
 * await handle?.release();
 * ```
 */
export function createMemoryLockService(
  { clock = systemClock, timers = systemTimers, store = new MemoryLockStore() }: MemoryLockServiceOptions = {},
): LockService {
  function held(key: string, token: string): MemoryLockEntry | undefined {
    const entry = store.entries.get(key);
    return entry && entry.token === token && entry.expiresAt > clock.now() ? entry : undefined;
  }

  function sweep(): void {
    if (store.entries.size < SWEEP_THRESHOLD) return;
    const now = clock.now();
    for (const [key, entry] of store.entries) if (entry.expiresAt <= now) store.entries.delete(key);
  }

  /** SET NX PX + INCR, atomically (synchronous code cannot interleave). */
  function tryAcquire(key: string, token: string, leaseMs: number): number | null {
    const now = clock.now();
    const current = store.entries.get(key);
    if (current && current.expiresAt > now) return null;
    store.entries.set(key, { token, expiresAt: now + leaseMs });
    return ++store.fence;
  }

  return {
    async acquire(key: string, options: AcquireOptions = {}): Promise<LockHandle | null> {
      const { leaseMs = DEFAULT_LEASE_MS, waitMs = DEFAULT_WAIT_MS } = options;
      if (key === "") throw new RangeError("Cannot lock an empty key");
      assertLeaseMs("leaseMs", leaseMs);
      sweep();
      const token = crypto.randomUUID();
      const fence = await acquireWithBackoff(() => Promise.resolve(tryAcquire(key, token, leaseMs)), waitMs, {
        timers,
      });
      if (fence === null) return null;
      return {
        key,
        fence,
        degraded: false,
        extend: (ms: number) =>
          _settle(() => {
            assertLeaseMs("extend", ms);
            const entry = held(key, token);
            if (entry) entry.expiresAt = clock.now() + ms;
            return entry !== undefined;
          }),
        release: () =>
          _settle(() => {
            const entry = held(key, token);
            if (entry) store.entries.delete(key);
            return entry !== undefined;
          }),
      };
    },
    advanceFence(floor: number): Promise<void> {
      return _settle(() => {
        assertFenceFloor(floor);
        // Synchronous, like the Lua script: no acquisition can interleave.
        store.fence = Math.max(store.fence, floor);
      });
    },
    status(): Promise<{ ok: boolean; detail?: string }> {
      return Promise.resolve({ ok: true });
    },
  };
}
