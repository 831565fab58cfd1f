/**
 * The service on the real local stack, as `tests/support/stack.ts` starts it
 * (supabase-js → RPC gateway → Postgres, @upstash/redis → Upstash proxy →
 * Redis, Paystack adapter → the sandbox mounted in the same server), with
 * what a benchmark needs on top:
 *
 * - the pool size of the database handle the gateway and the sandbox share;
 * - a quiet logger (lines are formatted as in production, then dropped:
 *   formatting costs CPU, the I/O to a log shipper is not ours to measure);
 * - round-trip counters: supabase-js' fetch (`rpc:<fn>`, counted by the
 *   runtime's own `trace` hook), each Upstash REST request
 *   (`redis:<purpose>:<COMMAND>`, counted at a proxy of the benchmark's own,
 *   `counting_upstash.ts`, which the service uses as its Upstash), and each
 *   provider call (`provider:<op>`, counted where the sandbox is mounted —
 *   the Paystack adapter's fetch is built inside the runtime, so its
 *   requests are counted at the server side);
 * - rate limits raised to 1,000,000 a minute: the limiter still runs (and
 *   costs its Redis round trip) on every limited route, but never refuses a
 *   benchmark's burst from one user or one IP;
 * - the sandbox's refunds move only when the benchmark advances
 *   {@linkcode BenchStack.providerClock} (as the refunds integration test
 *   drives them), so no refund webhook arrives in the middle of another
 *   measurement.
 *
 * @module
 */
import { signDevToken } from "../../src/auth/dev_token.ts";
import { type Config, DEV_JWT_SECRET, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { buildRuntime, type Runtime } from "../../src/runtime/build_runtime.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";
import { redisReachable, testRedisUrl } from "../../tests/support/services.ts";
import { createTestDatabase, type TestDatabase } from "../../tests/support/test_db.ts";
import { type CountingUpstash, serveCountingUpstash } from "./counting_upstash.ts";

/** The Redis the benchmark locks in (behind the local Upstash proxy): the tests' `REDIS_URL`. */
export const benchRedisUrl = testRedisUrl;

/** A running benchmark stack. */
export interface BenchStack {
  /** Base URL of the service, e.g. `http://127.0.0.1:41234`. */
  url: string;
  config: Config;
  runtime: Runtime;
  database: TestDatabase;
  /** The Upstash proxy the service uses, with its request and command counters. */
  redis: CountingUpstash;
  /** The clock the sandbox's refund steps wait on: advance it to move refunds at the provider. */
  providerClock: ManualClock;
  /** Round-trip events in the order they happened (`rpc:<fn>`, `redis:…`, `provider:<op>`), while recording. */
  events: string[];
  /** Starts (true) or stops (false) appending to {@linkcode BenchStack.events}. */
  record(on: boolean): void;
  /** A user's access token (a random user when omitted). */
  userToken(userId?: string): Promise<string>;
  /** A service-role key. */
  serviceToken(): Promise<string>;
  close(): Promise<void>;
}

/** Options of {@linkcode startBenchStack}. */
export interface BenchStackOptions {
  /** Connections of the pool the RPC gateway and the sandbox share. @default 10 (the runtime's own default) */
  poolSize?: number;
}

/**
 * Rate limits of every service the benchmark starts: the limiters run (one
 * Redis round trip per limited request, as deployed) but a benchmark's
 * burst from one user or one IP is never refused. The defaults (120 a
 * minute per user on initialize and verify, 6,000 a minute per IP on the
 * webhook) would refuse most of it.
 */
export const BENCH_RATE_LIMITS = {
  RATE_LIMIT_INITIALIZE_PER_MINUTE: "1000000",
  RATE_LIMIT_VERIFY_PER_MINUTE: "1000000",
  RATE_LIMIT_WEBHOOK_PER_MINUTE: "1000000",
} as const;

const SANDBOX_API = /^(transaction\/initialize|transaction\/verify|refund)(\/[^/]+)?$/;

/**
 * `<op>` of a sandbox API request (`initialize`, `verify`, `refund`,
 * `refund_list`, `refund_fetch`), or null (checkout pages, controls, the
 * service's own routes). `mount` is where the sandbox is served.
 */
export function providerOp(method: string, url: string, mount = "/sandbox/paystack"): string | null {
  const path = new URL(url).pathname;
  if (!path.startsWith(`${mount}/`)) return null;
  const match = SANDBOX_API.exec(path.slice(mount.length + 1));
  if (!match) return null;
  if (match[1] !== "refund") return match[1]!.replace("transaction/", "");
  if (method === "POST") return "refund";
  return match[2] ? "refund_fetch" : "refund_list";
}

/** Starts the stack on an ephemeral port, on a database of its own. */
export async function startBenchStack({ poolSize = 10 }: BenchStackOptions = {}): Promise<BenchStack> {
  if (!(await redisReachable())) throw new Error(`The benchmark needs Redis at ${benchRedisUrl()}`);
  const database = await createTestDatabase({ max: poolSize });
  if (!database.url) {
    await database.close();
    throw new Error("The benchmark needs Postgres at DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres)");
  }
  const events: string[] = [];
  let recording = false;
  const note = (event: string) => {
    if (recording) events.push(event);
  };
  let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    if (recording) {
      const op = providerOp(req.method, req.url);
      if (op) note(`provider:${op}`);
    }
    return handler(req);
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  let runtime: Runtime;
  let config: Config;
  const providerClock = new ManualClock(Date.now());
  let redis: CountingUpstash | undefined;
  try {
    config = loadConfig({
      APP_ENV: "test",
      DATABASE_URL: database.url,
      REDIS_URL: benchRedisUrl(),
      PORT: String(server.addr.port),
      LOCK_PREFIX: `b${crypto.randomUUID().slice(0, 8)}`,
      LOG_LEVEL: "info",
      ...BENCH_RATE_LIMITS,
    });
    if (config.redis.kind !== "local") throw new Error("The benchmark stack runs in local mode");
    redis = serveCountingUpstash({ redisUrl: config.redis.url, token: config.redis.token, note });
    config = { ...config, redis: { kind: "upstash", url: redis.url, token: config.redis.token } };
    runtime = await buildRuntime(config, {
      logger: createLogger({ level: "info", write: () => {} }),
      db: database.db,
      skipMigrations: true,
      // One delivery attempt: the benchmarks turn the sandbox's own webhooks off and deliver their own.
      sandboxRetrySchedule: [],
      sandboxTimers: providerClock,
      trace: (event) => {
        // Redis requests are counted at the benchmark's proxy (with their commands).
        if (event.startsWith("rpc:")) note(event);
      },
    });
  } catch (error) {
    await redis?.close();
    await server.shutdown();
    await database.close();
    throw error;
  }
  const upstash = redis;
  handler = runtime.app.fetch;
  const secret = config.auth.jwtSecret ?? DEV_JWT_SECRET;
  return {
    url,
    config,
    runtime,
    database,
    redis: upstash,
    providerClock,
    events,
    record(on) {
      recording = on;
    },
    userToken: (userId = crypto.randomUUID()) => signDevToken({ secret, userId, email: "payer@example.test" }),
    serviceToken: () => signDevToken({ secret, role: "service_role" }),
    async close() {
      await runtime.close();
      await server.shutdown();
      await upstash.close();
      await database.close();
    },
  };
}
