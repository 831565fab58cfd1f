/**
 * Test backend for the Upstash lock adapter: the local Upstash REST proxy in
 * front of real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`), a
 * random key prefix per test, an ioredis connection to look at Redis directly,
 * and a count of the HTTP requests the proxy received.
 *
 * When Redis is unreachable the Redis-backed tests are ignored, unless
 * `REQUIRE_SERVICES=1`, which makes them run and fail.
 *
 * @module
 */
import { Redis as IORedis } from "ioredis";
import { Redis } from "@upstash/redis";
import { createUpstashProxy } from "../../src/local/upstash_proxy.ts";
import { createUpstashLockService } from "../../src/lock/upstash_lock_service.ts";
import type { LockService } from "../../src/lock/lock_service.ts";
import type { LockBackend } from "./lock_service_contract.ts";

/** The Redis the tests use. */
export const REDIS_URL: string = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Whether a missing service must fail the run instead of being skipped. */
export const SERVICES_REQUIRED: boolean = Deno.env.get("REQUIRE_SERVICES") === "1";

/** Whether something answers a RESP PING at {@linkcode REDIS_URL} (raw TCP, nothing left open). Cached. */
export function redisReachable(): Promise<boolean> {
  _reachable ??= _ping();
  return _reachable;
}

let _reachable: Promise<boolean> | undefined;

async function _ping(): Promise<boolean> {
  const url = new URL(REDIS_URL);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 6379) });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const timer = setTimeout(() => conn?.close(), 1000);
    const n = await conn.read(new Uint8Array(64)).finally(() => clearTimeout(timer));
    return n !== null && n > 0;
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch {
      // already closed by the timeout
    }
  }
}

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
  return {
    prefix,
    admin,
    requests,
    url,
    token,
    client,
    newService(): LockService {
      return createUpstashLockService({ redis: client(), prefix });
    },
    async pttl(key: string): Promise<number | null> {
      const ms = await admin.pttl(`${prefix}:lock:${key}`);
      return ms < 0 ? null : ms;
    },
    async close(): Promise<void> {
      try {
        let cursor = "0";
        for (let i = 0; i < 1000; i++) {
          const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
          if (keys.length > 0) await admin.del(...keys);
          cursor = next;
          if (cursor === "0") break;
        }
      } finally {
        await admin.quit();
        await server.shutdown();
        await proxy.close();
      }
    },
  };
}
