/**
 * Builds the running service from a {@linkcode Config}: the adapters of the
 * configured mode (DESIGN §8), the local stand-ins where the mode needs them,
 * and the Hono app. Called by `main.ts` (the only reader of the environment)
 * and by tests, which hand in a config of their own.
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import { Redis } from "@upstash/redis";
import type { Hono } from "hono";
import { type AppUseCases, createApp } from "../app.ts";
import type { Config } from "../config.ts";
import { createJwtVerifier } from "../auth/jwt_verifier.ts";
import { signDevToken } from "../auth/dev_token.ts";
import { connectPostgres, openPGlite, type SqlClient } from "../db/sql_client.ts";
import { migrate } from "../db/migrate.ts";
import type { AppEnv } from "../http/app_env.ts";
import { serveRpcGateway } from "../local/rpc_gateway.ts";
import { createUpstashProxy } from "../local/upstash_proxy.ts";
import { createDegradingLockService } from "../lock/degrading_lock_service.ts";
import type { LockService } from "../lock/lock_service.ts";
import { createMemoryLockService } from "../lock/memory_lock_service.ts";
import { createUpstashLockService } from "../lock/upstash_lock_service.ts";
import { type Clock, systemClock } from "../observability/clock.ts";
import type { Logger } from "../observability/logger.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { createPaystackProvider } from "../providers/paystack_provider.ts";
import {
  createSandboxPaystack,
  ensureSandboxSchema,
  type SandboxPaystack,
} from "../providers/sandbox/sandbox_paystack.ts";
import type { PaymentStore } from "../store/payment_store.ts";
import { createSupabasePaymentStore } from "../store/supabase_payment_store.ts";

/** Options of {@linkcode buildRuntime}. */
export interface BuildRuntimeOptions {
  logger: Logger;
  metrics?: Metrics;
  clock?: Clock;
  /** Sandbox webhook retry schedule override (tests use short ones). */
  sandboxRetrySchedule?: number[];
  /** Skip applying migrations at start (they are applied by `deno task db:migrate`). @default false */
  skipMigrations?: boolean;
  /**
   * Use this database handle instead of opening one from the config (tests
   * hand in their isolated database). The caller keeps ownership.
   */
  db?: SqlClient;
  /**
   * Called with `rpc:<fn>` for each database RPC and `redis` for each Redis
   * REST request, in the order they are sent (round-trip measurements).
   */
  trace?: (event: string) => void;
}

/** A built service and what it runs on. */
export interface Runtime {
  app: Hono<AppEnv>;
  useCases: AppUseCases;
  store: PaymentStore;
  locks: LockService;
  metrics: Metrics;
  /** The sandbox provider, when this mode serves one. */
  sandbox: SandboxPaystack | null;
  /** The local database handle (embedded and local modes). */
  db: SqlClient | null;
  /** Where the local stand-ins listen, for the start-up banner. */
  endpoints: { rpcGateway: string | null; upstashProxy: string | null };
  /** Stops everything this runtime started, in reverse order. */
  close(): Promise<void>;
}

/**
 * Builds every adapter of `config.mode` and the app on top.
 *
 * @example
 * ```ts
 * const runtime = await buildRuntime(loadConfig(Deno.env.toObject()), { logger });
 * Deno.serve({ port: 8000 }, runtime.app.fetch);
 * ```
 */
export async function buildRuntime(config: Config, options: BuildRuntimeOptions): Promise<Runtime> {
  const { logger, metrics = createMetrics(), clock = systemClock } = options;
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((error) => logger.warn("shutdown step failed", { error }));
  };
  try {
    // --- database: supabase-js → (local gateway →) Postgres / PGlite
    let db: SqlClient | null = null;
    let supabaseUrl: string;
    let serviceKey: string;
    let gatewayUrl: string | null = null;
    if (config.database.kind === "supabase") {
      supabaseUrl = config.database.url;
      serviceKey = config.database.serviceRoleKey;
    } else {
      if (options.db) {
        db = options.db;
      } else {
        const opened = config.database.kind === "pglite"
          ? await openPGlite({ dataDir: config.database.dataDir })
          : connectPostgres(config.database.url);
        closers.push(() => opened.close());
        db = opened;
      }
      if (!options.skipMigrations) await migrate(db);
      const jwtSecret = config.auth.jwtSecret!;
      const gateway = await serveRpcGateway({ db, jwtSecret, port: 0 });
      closers.push(() => gateway.close());
      gatewayUrl = supabaseUrl = gateway.url;
      serviceKey = await signDevToken({ secret: jwtSecret, role: "service_role", expiresInSeconds: 10 * 365 * 86_400 });
    }
    const supabase = createClient(supabaseUrl, serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: _countingRpcFetch(metrics, options.trace) },
    });
    const store = createSupabasePaymentStore(supabase);

    // --- lock: memory | @upstash/redis → (local proxy →) Redis, degrading on trouble
    let inner: LockService;
    let proxyUrl: string | null = null;
    if (config.redis.kind === "memory") {
      inner = createMemoryLockService({ clock });
    } else {
      let url = config.redis.url;
      if (config.redis.kind === "local") {
        // Served here rather than with serveUpstashProxy so that each REST
        // round trip is counted (redis_rest_requests_total).
        const proxy = createUpstashProxy({ redisUrl: config.redis.url, token: config.redis.token });
        const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
          metrics.inc("redis_rest_requests_total");
          options.trace?.("redis");
          return proxy.fetch(req);
        });
        closers.push(async () => {
          await server.shutdown();
          await proxy.close();
        });
        url = proxyUrl = `http://127.0.0.1:${server.addr.port}`;
      }
      const redis = new Redis({ url, token: config.redis.token, enableAutoPipelining: true, retry: false });
      inner = createUpstashLockService({ redis, prefix: config.lock.prefix });
    }
    const locks = createDegradingLockService(inner, {
      timeoutMs: config.lock.redisTimeoutMs,
      onDegraded: ({ key, reason }) => {
        metrics.inc("lock_degraded_total");
        logger.warn("lock store unavailable: proceeding without the lock", { key, reason });
      },
    });
    closers.push(async () => void await locks.drain());

    // --- provider: Paystack over HTTP (the mounted sandbox in dev and tests)
    let sandbox: SandboxPaystack | null = null;
    if (config.provider.sandbox) {
      if (!db) throw new Error("The sandbox provider needs the local database");
      await ensureSandboxSchema(db);
      sandbox = createSandboxPaystack({
        db,
        secretKey: config.provider.secretKey,
        currencies: config.currencies.map((rule) => rule.code),
        publicBaseUrl: `${config.publicBaseUrl}/sandbox/paystack`,
        webhookUrl: `${config.publicBaseUrl}/v1/webhooks/paystack`,
        appEnv: config.appEnv,
        log: (entry) => logger.info("sandbox", entry),
        ...(options.sandboxRetrySchedule ? { retrySchedule: options.sandboxRetrySchedule } : {}),
      });
      const opened = sandbox;
      closers.push(() => opened.close());
    }
    const provider = createPaystackProvider({
      secretKey: config.provider.secretKey,
      baseUrl: config.provider.baseUrl,
      timeoutMs: config.provider.timeoutMs,
    });

    const verifier = createJwtVerifier({ secret: config.auth.jwtSecret, jwksUrl: config.auth.jwksUrl });
    const { app, useCases } = createApp({
      config,
      store,
      locks,
      provider,
      verifier,
      logger,
      metrics,
      clock,
      sandbox: sandbox?.app,
    });
    return {
      app,
      useCases,
      store,
      locks,
      metrics,
      sandbox,
      db,
      endpoints: { rpcGateway: gatewayUrl, upstashProxy: proxyUrl },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * supabase-js' fetch, counting each RPC round trip per function
 * (`db_rpc_requests_total{fn}`): how we measure "at most 2 RPCs" per flow.
 */
function _countingRpcFetch(metrics: Metrics, trace?: (event: string) => void): typeof fetch {
  return (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const fn = /\/rest\/v1\/rpc\/([^/?#]+)/.exec(url)?.[1];
    if (fn) {
      metrics.inc("db_rpc_requests_total", { fn });
      trace?.(`rpc:${fn}`);
    }
    return fetch(input, init);
  };
}
