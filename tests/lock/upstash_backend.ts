/**
 * Test backend for the Upstash lock adapter: the local Upstash REST proxy in
 * front of real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`), a
 * random key prefix per test, an ioredis connection to look at Redis directly,
 * a count of the HTTP requests the proxy received, and a manual clock for the
 * services' waits. Redis' own clock runs the leases (PX cannot be faked):
 * `elapse` ages them by hand instead, through PTTL/PEXPIRE.
 *
 * When Redis is unreachable the Redis-backed tests are ignored, unless
 * `REQUIRE_SERVICES=1`, which makes them run and fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis as IORedis } from "ioredis";
import { Redis } from "@upstash/redis";
import { createUpstashProxy } from "../../src/local/upstash_proxy.ts";
import { createUpstashLockService } from "../../src/lock/upstash_lock_service.ts";
import type { LockService } from "../../src/lock/lock_service.ts";
import type { LockBackend } from "./lock_service_contract.ts";
import { ManualClock } from "../support/manual_clock.ts";
import { redisReachable, testRedisUrl } from "../support/services.ts";

/** The Redis the tests use. */
export const REDIS_URL: string = testRedisUrl();

/** The contract backend plus what Upstash-specific tests look at. */
export interface UpstashBackend extends LockBackend {
  /** This test's key prefix (`test:lock:<uuid>`). */
  prefix: string;
  /** Direct connection to Redis. */
  admin: IORedis;
  /** Paths of the HTTP requests the proxy received, in order. */
  requests: string[];
  /** Proxy base URL and token, for extra clients. */
  url: string;
  token: string;
  /** A new `@upstash/redis` client on the proxy (auto-pipelining on, as in production). */
  client(): Redis;
}

/**
 * Ages every lease in KEYS by ARGV[1] ms, atomically: what that much time does
 * to a PX expiry. A lease that reaches 0 ends (the key goes, as its expiry
 * would take it); keys without a lease (the fence counter) are left alone.
 */
const AGE_LEASES_SCRIPT = `
local ms = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local left = redis.call("PTTL", key)
  if left > 0 then
    if left > ms then redis.call("PEXPIRE", key, left - ms) else redis.call("DEL", key) end
  end
end
return 0
`;

/** Every key matching `pattern` (SCAN, bounded). */
export async function scanKeys(admin: IORedis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  for (let i = 0; i < 1000; i++) {
    const [next, keys] = await admin.scan(cursor, "MATCH", pattern, "COUNT", 500);
    found.push(...keys);
    cursor = next;
    if (cursor === "0") break;
  }
  return found;
}

/**
 * Starts a proxy over real Redis for one test.
 *
 * @returns The backend; `close()` deletes the test's keys and stops everything.
 */
export async function openUpstashBackend(): Promise<UpstashBackend> {
  // Only reached when Redis is down if REQUIRE_SERVICES=1: fail at once instead of timing out.
  if (!(await redisReachable())) throw new Error(`Redis at ${REDIS_URL} is unreachable and REQUIRE_SERVICES=1`);
  const token = `tok_${crypto.randomUUID()}`;
  const prefix = `test:lock:${crypto.randomUUID()}`;
  const proxy = createUpstashProxy({ redisUrl: REDIS_URL, token });
  const requests: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    requests.push(new URL(req.url).pathname);
    return proxy.fetch(req);
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const admin = new IORedis(REDIS_URL, { lazyConnect: true });
  await admin.connect();
  const client = () => new Redis({ url, token, enableTelemetry: false, enableAutoPipelining: true });
  const clock = new ManualClock();
  const deletePrefix = async () => {
    const keys = await scanKeys(admin, `${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  };
  return {
    prefix,
    admin,
    requests,
    url,
    token,
    client,
    clock,
    newService(): LockService {
      return createUpstashLockService({ redis: client(), prefix, timers: clock });
    },
    async pttl(key: string): Promise<number | null> {
      const ms = await admin.pttl(`${prefix}:lock:${key}`);
      return ms < 0 ? null : ms;
    },
    async elapse(ms: number): Promise<void> {
      const keys = await scanKeys(admin, `${prefix}:lock:*`);
      if (keys.length > 0) await admin.eval(AGE_LEASES_SCRIPT, keys.length, ...keys, String(ms));
      await clock.advance(ms);
    },
    // Honest scope: only this test's keys go (what FLUSHDB or an eviction does to them);
    // a real FLUSHDB runs in its own logical database, see withDedicatedDb().
    loseState: deletePrefix,
    async close(): Promise<void> {
      try {
        await deletePrefix();
      } finally {
        await admin.quit();
        await server.shutdown();
        await proxy.close();
      }
    },
  };
}

/**
 * The Redis logical database that only {@linkcode withDedicatedDb} uses, so a
 * test may FLUSHDB it (nothing in this repository selects a database other
 * than 0; Redis has 16 by default).
 */
export const DEDICATED_DB = 15;

/** Compare-and-delete of the guard key: only the run that set it removes it. */
const RELEASE_GUARD_SCRIPT = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
`;

/** What {@linkcode withDedicatedDb} hands the test. */
export interface DedicatedDb {
  /** Its number. */
  db: number;
  /** A new `@upstash/redis` client on a proxy whose Redis connection is to that database. */
  client(): Redis;
  /** A manual clock for the services' timers. */
  clock: ManualClock;
}

/**
 * Runs `fn` against Redis logical database {@linkcode DEDICATED_DB} through a
 * proxy of its own, then empties that database. `fn` may FLUSHDB it: no other
 * test's keys live there. Runs of this suite that overlap (two engineers, CI)
 * take turns through a guard key in database 0 (SET NX PX, polled a bounded
 * number of times; the PX lets a crashed run's guard lapse), so one run's
 * flush never wipes another's keys.
 *
 * @param fn The test body.
 * @returns What `fn` returns.
 */
export async function withDedicatedDb<T>(fn: (dedicated: DedicatedDb) => Promise<T>): Promise<T> {
  if (!(await redisReachable())) throw new Error(`Redis at ${REDIS_URL} is unreachable and REQUIRE_SERVICES=1`);
  const guardKey = `test:lock:dedicated-db:${DEDICATED_DB}:guard`;
  const guardToken = crypto.randomUUID();
  const admin = new IORedis(REDIS_URL, { lazyConnect: true });
  await admin.connect();
  try {
    let guarded = false;
    for (let poll = 0; poll < 1_200 && !guarded; poll++) {
      guarded = (await admin.set(guardKey, guardToken, "PX", 60_000, "NX")) === "OK";
      if (!guarded) await new Promise((resolve) => setTimeout(resolve, 50)); // another run flushes now: its turn
    }
    assert.ok(guarded, `database ${DEDICATED_DB} stayed guarded by another run for a minute`);
    const redisUrl = new URL(REDIS_URL);
    redisUrl.pathname = `/${DEDICATED_DB}`;
    const token = `tok_${crypto.randomUUID()}`;
    const proxy = createUpstashProxy({ redisUrl: redisUrl.href, token });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, proxy.fetch);
    const url = `http://127.0.0.1:${server.addr.port}`;
    const client = () => new Redis({ url, token, enableTelemetry: false, enableAutoPipelining: true });
    try {
      return await fn({ db: DEDICATED_DB, client, clock: new ManualClock() });
    } finally {
      await client().flushdb();
      await server.shutdown();
      await proxy.close();
    }
  } finally {
    await admin.eval(RELEASE_GUARD_SCRIPT, 1, guardKey, guardToken);
    await admin.quit();
  }
}
