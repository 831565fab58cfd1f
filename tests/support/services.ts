/**
 * The real services the tests use — Postgres at `DATABASE_URL`, Redis at
 * `REDIS_URL` — whether they answer, and the one rule for a missing one
 * (DESIGN §9):
 *
 * - without `REQUIRE_SERVICES=1`, suites fall back to PGlite and the
 *   in-memory lock; a suite that cannot mean anything on the fallback (two
 *   real Postgres sessions racing, two instances sharing one Redis) is
 *   skipped, and says why on the console;
 * - with `REQUIRE_SERVICES=1` (CI), nothing is skipped: the suite runs and
 *   fails on the missing service.
 *
 * @module
 */
import { connectPostgres } from "../../src/db/sql_client.ts";

/** The Postgres the tests create their databases on. */
export function adminDatabaseUrl(): string {
  return Deno.env.get("DATABASE_URL") ?? "postgres://root@127.0.0.1:5432/postgres";
}

/** The Redis the tests use. */
export function testRedisUrl(): string {
  return Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
}

/** Whether a missing service must fail the run instead of being skipped or replaced. */
export function servicesRequired(): boolean {
  return Deno.env.get("REQUIRE_SERVICES") === "1";
}

let _postgres: Promise<boolean> | undefined;

/** Whether the Postgres at {@linkcode adminDatabaseUrl} accepts a query. Cached per process. */
export function postgresReachable(): Promise<boolean> {
  _postgres ??= (async () => {
    const admin = connectPostgres(adminDatabaseUrl(), { max: 1 });
    try {
      await admin.query("select 1");
      return true;
    } catch {
      return false;
    } finally {
      await admin.close().catch(() => {});
    }
  })();
  return _postgres;
}

let _redis: Promise<boolean> | undefined;

/**
 * Whether something answers a RESP `PING` at {@linkcode testRedisUrl}. Raw
 * TCP with a one-second budget, so no client, socket or timer is left open
 * (Deno's sanitizers stay quiet in the suites that call it). Cached per process.
 */
export function redisReachable(): Promise<boolean> {
  _redis ??= _ping(new URL(testRedisUrl()));
  return _redis;
}

async function _ping(url: URL): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 6379) });
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

let _redisServer: Promise<boolean> | undefined;

/** Whether the `redis-server` binary is installed (suites that start a Redis of their own need it). */
export function redisServerInstalled(): Promise<boolean> {
  _redisServer ??= new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((out) => out.success, () => false);
  return _redisServer;
}

/** What a suite may need beyond the embedded fallback. */
export type Need = "postgres" | "redis" | "redis-server";

async function _missing(need: Need): Promise<string | null> {
  switch (need) {
    case "postgres":
      return (await postgresReachable()) ? null : `Postgres at ${adminDatabaseUrl()} does not answer`;
    case "redis":
      return (await redisReachable()) ? null : `Redis at ${testRedisUrl()} does not answer`;
    case "redis-server":
      return (await redisServerInstalled()) ? null : "redis-server is not installed";
    default: {
      const unreachable: never = need;
      return unreachable;
    }
  }
}

/**
 * The `ignore` of a test (or step) that needs real services: true, with a
 * line on the console saying what is skipped and why, when one of `needs` is
 * missing and `REQUIRE_SERVICES` is not 1; false otherwise, so under
 * `REQUIRE_SERVICES=1` the test runs and fails on the missing service.
 *
 * @param needs The services the test cannot run without.
 * @param what The test's name, for the console line.
 * @param why Why the embedded fallback cannot stand in, for the console line.
 * @returns Whether to ignore the test.
 *
 * @example
 * ```ts
 * Deno.test({
 *   name: "two instances share one lock",
 *   ignore: await ignoreWithout(["redis"], "two instances share one lock", "each in-memory lock is private"),
 *   async fn() {},
 * });
 * ```
 */
export async function ignoreWithout(needs: Need[], what: string, why: string): Promise<boolean> {
  if (servicesRequired()) return false;
  const missing = (await Promise.all(needs.map(_missing))).filter((m): m is string => m !== null);
  if (missing.length === 0) return false;
  console.log(`skipped "${what}": ${missing.join("; ")} (${why}); REQUIRE_SERVICES=1 makes this a failure`);
  return true;
}
