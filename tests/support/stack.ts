/**
 * The whole service on the real local stack, for HTTP and integration
 * tests: an isolated Postgres database behind the RPC gateway (supabase-js
 * talks to it over HTTP), real Redis behind the Upstash proxy (@upstash/redis
 * talks to it over HTTP), and the sandbox provider mounted in the same server,
 * which the Paystack adapter calls over HTTP and which delivers signed
 * webhooks back to it.
 *
 * @module
 */
import { Redis as IORedis } from "ioredis";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { type Config, DEV_JWT_SECRET, loadConfig } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/observability/logger.ts";
import { buildRuntime, type Runtime } from "../../src/runtime/build_runtime.ts";
import { createTestDatabase, servicesRequired, type TestDatabase } from "./test_db.ts";

/** The Redis tests use. */
export function testRedisUrl(): string {
  return Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
}

let _redisReachable: Promise<boolean> | undefined;

/** Whether Redis answers (cached). With REQUIRE_SERVICES=1, not answering fails the caller. */
export function redisReachable(): Promise<boolean> {
  _redisReachable ??= (async () => {
    const client = new IORedis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      return (await client.ping()) === "PONG";
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  })();
  return _redisReachable;
}

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
  /** Extra environment for `loadConfig`. */
  env?: Record<string, string>;
  /** Use Redis through the proxy (true) or the in-memory lock (false). @default true */
  redis?: boolean;
  /** Sandbox webhook retry schedule. @default [50, 100, 200] */
  sandboxRetrySchedule?: number[];
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
  { env = {}, redis = true, sandboxRetrySchedule = [50, 100, 200], shareWith, trace }: TestStackOptions = {},
): Promise<TestStack> {
  if (redis && !(await redisReachable()) && servicesRequired()) {
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
      ...(redis && (await redisReachable()) ? { REDIS_URL: testRedisUrl() } : {}),
      PORT: String(server.addr.port),
      LOCK_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
      ...env,
    });
    if (!redis || !(await redisReachable())) config = { ...config, redis: { kind: "memory" } };
    runtime = await buildRuntime(config, {
      logger,
      db: database.db,
      skipMigrations: true,
      sandboxRetrySchedule,
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
