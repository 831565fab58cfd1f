/**
 * The whole service on the real local stack, for HTTP and integration
 * tests: an isolated Postgres database behind the RPC gateway (supabase-js
 * talks to it over HTTP), real Redis behind the Upstash proxy (@upstash/redis
 * talks to it over HTTP), and the sandbox provider mounted in the same server,
 * which the Paystack adapter calls over HTTP and which delivers signed
 * webhooks back to it.
 *
 * Without Postgres or Redis (and without `REQUIRE_SERVICES=1`) the stack runs
 * on the embedded fallback: PGlite and the in-memory lock. A `REDIS_URL`
 * handed in through `env` is used as given, answering or not: the caller
 * means that Redis (a dead port, a server of its own).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis as IORedis } from "ioredis";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { type Config, DEV_JWT_SECRET, loadConfig } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/observability/logger.ts";
import type { Timers } from "../../src/observability/clock.ts";
import { buildRuntime, type Runtime } from "../../src/runtime/build_runtime.ts";
import { redisReachable, servicesRequired, testRedisUrl } from "./services.ts";
import { createTestDatabase, type TestDatabase } from "./test_db.ts";

/** A running test stack. */
export interface TestStack {
  /** Base URL of the service, e.g. `http://127.0.0.1:41234`. */
  url: string;
  config: Config;
  runtime: Runtime;
  database: TestDatabase;
  /** Log lines written by the service (parsed JSON). */
  logs: Array<Record<string, unknown>>;
  /** A user's access token (a random user when omitted). */
  userToken(userId?: string, options?: { email?: string | null }): Promise<string>;
  /** A service-role key. */
  serviceToken(): Promise<string>;
  /** `fetch` against the service. */
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Options of {@linkcode startTestStack}. */
export interface TestStackOptions {
  /** Extra environment for `loadConfig`; a `REDIS_URL` here is used as given. */
  env?: Record<string, string>;
  /**
   * Use Redis through the proxy (true) or the in-memory lock (false). True
   * falls back to the in-memory lock when the test Redis does not answer
   * (a failure under `REQUIRE_SERVICES=1`). @default true
   */
  redis?: boolean;
  /** Sandbox webhook retry schedule. @default [50, 100, 200] */
  sandboxRetrySchedule?: number[];
  /** The timers the sandbox's refund steps wait on: a ManualClock makes a test step them. @default the real ones */
  sandboxTimers?: Timers;
  /**
   * A second instance of the service: the same database, Redis namespace and
   * provider (that stack's sandbox) with clients of its own.
   */
  shareWith?: TestStack;
  /** See `BuildRuntimeOptions.trace`. */
  trace?: (event: string) => void;
}

/**
 * Starts the stack on an ephemeral port.
 *
 * @example
 * ```ts
 * const stack = await startTestStack();
 * try { const res = await stack.request("/health"); } finally { await stack.close(); }
 * ```
 */
export async function startTestStack(
  { env = {}, redis = true, sandboxRetrySchedule = [50, 100, 200], sandboxTimers, shareWith, trace }: TestStackOptions =
    {},
): Promise<TestStack> {
  const explicitRedis = env.REDIS_URL !== undefined;
  const useRedis = redis && (explicitRedis || await redisReachable());
  if (redis && !useRedis && servicesRequired()) {
    throw new Error(`Redis is required (REQUIRE_SERVICES=1) but ${testRedisUrl()} does not answer`);
  }
  const database = shareWith?.database ?? await createTestDatabase();
  if (shareWith) {
    env = {
      LOCK_PREFIX: shareWith.config.lock.prefix,
      PAYSTACK_BASE_URL: shareWith.config.provider.baseUrl,
      PAYSTACK_SECRET_KEY: shareWith.config.provider.secretKey,
      ...env,
    };
  }
  let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => handler(req));
  const url = `http://127.0.0.1:${server.addr.port}`;
  const logs: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger({ level: "debug", write: (line) => logs.push(JSON.parse(line)) });
  let runtime: Runtime;
  let config: Config;
  try {
    config = loadConfig({
      APP_ENV: "test",
      DATABASE_URL: database.url || "postgres://embedded.invalid/pglite",
      ...(useRedis ? { REDIS_URL: testRedisUrl() } : {}),
      PORT: String(server.addr.port),
      LOCK_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
      ...env,
    });
    if (!useRedis) config = { ...config, redis: { kind: "memory" } };
    runtime = await buildRuntime(config, {
      logger,
      db: database.db,
      skipMigrations: true,
      sandboxRetrySchedule,
      ...(sandboxTimers ? { sandboxTimers } : {}),
      ...(trace ? { trace } : {}),
    });
  } catch (error) {
    await server.shutdown();
    if (!shareWith) await database.close();
    throw error;
  }
  handler = runtime.app.fetch;
  return {
    url,
    config,
    runtime,
    database,
    logs,
    userToken: (userId = crypto.randomUUID(), options = {}) =>
      signDevToken({ secret: config.auth.jwtSecret ?? DEV_JWT_SECRET, userId, ...options }),
    serviceToken: () => signDevToken({ secret: config.auth.jwtSecret ?? DEV_JWT_SECRET, role: "service_role" }),
    request: (path, init) => fetch(`${url}${path}`, init),
    async close() {
      await runtime.close();
      await server.shutdown();
      if (!shareWith) await database.close();
    },
  };
}

/**
 * Deletes every key the stack keeps in Redis (its lock prefix), as a FLUSHDB,
 * a new Upstash database or an eviction would: the fence counter starts over.
 * Only this stack's keys, so suites running beside it are untouched.
 */
export async function flushStackRedis(stack: TestStack): Promise<void> {
  const redis = stack.config.redis;
  if (redis.kind !== "local") {
    throw new Error(
      "Cannot flush Redis: this stack runs on the in-memory lock (no Redis answered); " +
        'skip the test without Redis: ignore: await ignoreWithout(["redis"], name, why)',
    );
  }
  const client = new IORedis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const keys = await client.keys(`${stack.config.lock.prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

/**
 * Ends the lease of lock `key` (e.g. `payment:<reference>`) in the stack's
 * Redis, as its PX expiry would once the holder has slept past it: a lease
 * runs out on Redis' clock, which a test cannot advance, so it deletes the key.
 *
 * @throws {Error} When the stack runs without a local Redis.
 */
export async function expireStackLock(stack: TestStack, key: string): Promise<void> {
  const redis = stack.config.redis;
  if (redis.kind !== "local") throw new Error("This stack runs without a local Redis");
  const client = new IORedis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    assert.equal(await client.del(`${stack.config.lock.prefix}:lock:${key}`), 1, `no lease on ${key}`);
  } finally {
    client.disconnect();
  }
}
