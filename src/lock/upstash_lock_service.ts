/**
 * LockService over Upstash Redis (or the local Upstash REST proxy), through
 * `@upstash/redis`.
 *
 * Why not `@upstash/lock`'s `Lock` class: it has no fencing token, and taking
 * one after its `SET NX PX` would cost a second round trip and leave a window
 * where the lock is held without a fence; its `extend` uses `EXPIRE` with whole
 * seconds (`extend(1500)` fails, and with < 500 ms left it answers false
 * while the lock is held); its release needs the uuid that only its own
 * acquire can set. So the operations are small Lua scripts here. They
 * keep `@upstash/lock`'s data layout (the key holds a random token, with the
 * lease as its PX expiry), so both kinds of holder exclude each other on
 * the same key.
 *
 * @module
 */
import type { Redis } from "@upstash/redis";
import { systemTimers, type Timers } from "../observability/clock.ts";
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

/** Options of {@linkcode createUpstashLockService}. */
export interface UpstashLockServiceOptions {
  /** An `@upstash/redis` client, built by the composition root. */
  redis: Redis;
  /** Key namespace: `dev` → locks at `dev:lock:<key>`, fencing counter at `dev:lock:fence`. */
  prefix: string;
  /**
   * Timers for the pauses between contended attempts (the lease itself is
   * Redis' PX expiry and follows Redis' clock, whatever this is).
   * @default systemTimers
   */
  timers?: Timers;
}

/**
 * Takes the lock and its fencing token in one round trip. Taking both in one
 * script means every holder has a fence and fences follow acquisition order.
 * KEYS[1] lock, KEYS[2] fence counter; ARGV[1] token, ARGV[2] lease ms.
 * Returns the fence (≥ 1), or 0 when another holder has the lock.
 */
const ACQUIRE_SCRIPT = `
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return redis.call("INCR", KEYS[2])
end
return 0
`;

/**
 * Renews the lease to ARGV[2] ms from now if ARGV[1] still holds KEYS[1].
 * PEXPIRE (not EXPIRE) so any millisecond value works and a lock with
 * < 500 ms left is renewed rather than reported lost. Returns 1 or 0.
 */
const EXTEND_SCRIPT = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`;

/**
 * Raises the fencing counter KEYS[1] to at least ARGV[1], never lowering it.
 * One script so that it is atomic with the acquire script's INCR: whatever
 * interleaving of advances and acquisitions, fences keep strictly increasing
 * and every one handed out after this returns exceeds ARGV[1]. A missing
 * counter (flushed database, eviction, new prefix) counts as 0. Returns the
 * counter's value afterwards.
 */
const ADVANCE_FENCE_SCRIPT = `
local floor = tonumber(ARGV[1])
local current = tonumber(redis.call("GET", KEYS[1]) or "0")
if current == nil then
  return redis.error_reply("ERR fence counter is not an integer")
end
if current < floor then
  redis.call("SET", KEYS[1], ARGV[1])
  return floor
end
return current
`;

/** Compare-and-delete: never deletes a lock another holder took after ours expired. Returns 1 or 0. */
const RELEASE_SCRIPT = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`;

/** Suffix of the fencing counter; refused as a lock key so a lock can never overwrite it. */
const FENCE_SUFFIX = "fence";

/**
 * Creates a LockService on an `@upstash/redis` client.
 *
 * Round trips: acquire = 1 request per attempt (EVALSHA; one more, EVAL, the
 * first time after Redis lost its script cache), extend = 1, release = 1,
 * advanceFence = 1. Contended attempts are retried with jittered exponential
 * backoff within `waitMs`.
 *
 * @param options The client, the key prefix and the timers.
 * @returns The service.
 * @throws {RangeError} From `acquire`, for an empty key, the reserved key `fence`, or a non-integer lease;
 * from `advanceFence`, for a floor that is not a non-negative safe integer.
 *
 * @example
 * ```ts
 * import { Redis } from "@upstash/redis";
 * const locks = createUpstashLockService({ redis: new Redis({ url, token }), prefix: "dev" });
 * const handle = await locks.acquire("payment:ref_123", { leaseMs: 5_000 });
 * if (handle) {
 *   try {
 *     // ... pass handle.fence to the SQL function ...
 *   } finally {
 *     await handle.release();
 *   }
 * }
 * ```
 */
export function createUpstashLockService(
  { redis, prefix, timers = systemTimers }: UpstashLockServiceOptions,
): LockService {
  const acquireScript = redis.createScript<number>(ACQUIRE_SCRIPT);
  const advanceFenceScript = redis.createScript<number>(ADVANCE_FENCE_SCRIPT);
  const extendScript = redis.createScript<number>(EXTEND_SCRIPT);
  const releaseScript = redis.createScript<number>(RELEASE_SCRIPT);
  const fenceKey = `${prefix}:lock:${FENCE_SUFFIX}`;

  function handleFor(key: string, redisKey: string, token: string, fence: number): LockHandle {
    return {
      key,
      fence,
      degraded: false,
      async extend(ms: number): Promise<boolean> {
        assertLeaseMs("extend", ms);
        return await extendScript.exec([redisKey], [token, String(ms)]) === 1;
      },
      async release(): Promise<boolean> {
        return await releaseScript.exec([redisKey], [token]) === 1;
      },
    };
  }

  return {
    async acquire(key: string, options: AcquireOptions = {}): Promise<LockHandle | null> {
      const { leaseMs = DEFAULT_LEASE_MS, waitMs = DEFAULT_WAIT_MS } = options;
      if (key === "" || key === FENCE_SUFFIX) throw new RangeError(`Cannot lock key "${key}": reserved or empty`);
      assertLeaseMs("leaseMs", leaseMs);
      const redisKey = `${prefix}:lock:${key}`;
      // A fresh token per acquisition: release/extend only act on our own acquisition.
      const token = crypto.randomUUID();
      const fence = await acquireWithBackoff(
        async () => {
          const result: unknown = await acquireScript.exec([redisKey, fenceKey], [token, String(leaseMs)]);
          if (typeof result !== "number") throw new Error(`Cannot read fence: script answered ${String(result)}`);
          return result > 0 ? result : null;
        },
        waitMs,
        { timers },
      );
      return fence === null ? null : handleFor(key, redisKey, token, fence);
    },
    async advanceFence(floor: number): Promise<void> {
      assertFenceFloor(floor);
      await advanceFenceScript.exec([fenceKey], [String(floor)]);
    },
    async status(): Promise<{ ok: boolean; detail?: string }> {
      try {
        const pong = await redis.ping();
        return pong === "PONG" ? { ok: true } : { ok: false, detail: `unexpected PING reply: ${pong}` };
      } catch (error) {
        return { ok: false, detail: `redis unreachable: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  };
}
