/**
 * The service on top of its backing services: supabase-js against a
 * Supabase API, the lock on an Upstash REST endpoint, the Paystack adapter,
 * the JWT verifier and the Hono app. Production code only: the local
 * stand-ins (RPC gateway, Upstash proxy, sandbox, PGlite, the Postgres
 * driver) are started elsewhere and reach this module as plain URLs, so a
 * cloud entry that imports it carries none of them (docs: "Cold start").
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import { Redis } from "@upstash/redis";
import type { Hono } from "hono";
import { type AppDeps, type AppUseCases, createApp, type RateLimiters } from "../app.ts";
import type { Config } from "../config.ts";
import { createJwtVerifier } from "../auth/jwt_verifier.ts";
import type { AppEnv } from "../http/app_env.ts";
import { createDegradingLockService } from "../lock/degrading_lock_service.ts";
import type { LockService } from "../lock/lock_service.ts";
import { createUpstashLockService } from "../lock/upstash_lock_service.ts";
import { type Clock, systemClock } from "../observability/clock.ts";
import type { Logger } from "../observability/logger.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { createPaystackProvider } from "../providers/paystack_provider.ts";
import { failOpenRateLimiter } from "../rate_limit/fail_open_rate_limiter.ts";
import { createMemoryRateLimiter } from "../rate_limit/memory_rate_limiter.ts";
import type { RateLimiter, RateLimitRule } from "../rate_limit/rate_limiter.ts";
import { createUpstashRateLimiter } from "../rate_limit/upstash_rate_limiter.ts";
import { createSupabasePaymentStore } from "../store/supabase_payment_store.ts";

/** Where the service's backing services answer. */
export interface ServiceBackends {
  /** A Supabase project's API, or the local RPC gateway speaking its protocol. */
  supabase: { url: string; serviceRoleKey: string };
  /**
   * The lock store: an Upstash REST endpoint (or the local proxy speaking
   * its protocol), or a ready lock service (embedded mode's in-memory lock).
   */
  lockStore:
    | { kind: "upstash"; url: string; token: string }
    | { kind: "service"; locks: LockService };
  /** The sandbox provider's routes, mounted at `/sandbox/paystack` (dev and tests only). */
  sandboxApp?: Hono | undefined;
  /** Swagger UI's assets, served under `/docs/assets` (local modes); by default `/docs` loads them from the CDN. */
  docsAssets?: Hono | undefined;
}

/** Options of {@linkcode assembleService}. */
export interface ServiceOptions {
  logger: Logger;
  metrics?: Metrics;
  clock?: Clock;
  /**
   * Called with `rpc:<fn>` for each database RPC and `redis` for each Redis
   * REST request, in the order they are sent (round-trip measurements).
   */
  trace?: (event: string) => void;
  /** Prefix of every route (`/payments` in the Edge Function). @default "/" */
  basePath?: string;
  /** The path clients use, for the OpenAPI document (`/functions/v1/payments`). @default basePath */
  publicPath?: string;
}

/** The assembled service. */
export interface ServiceRuntime {
  app: Hono<AppEnv>;
  useCases: AppUseCases;
  store: AppDeps["store"];
  locks: LockService;
  metrics: Metrics;
  /** Waits for lock releases still in flight. Opens nothing, so there is nothing else to close. */
  close(): Promise<void>;
}

/**
 * Builds the adapters over `backends` and the app on top. Opens no
 * connection: supabase-js and `@upstash/redis` speak HTTP per request.
 *
 * @example
 * ```ts
 * const service = assembleService(config, {
 *   supabase: { url: "https://ref.supabase.co", serviceRoleKey },
 *   lockStore: { kind: "upstash", url: "https://eu1-x.upstash.io", token },
 * }, { logger });
 * Deno.serve(service.app.fetch);
 * ```
 */
export function assembleService(config: Config, backends: ServiceBackends, options: ServiceOptions): ServiceRuntime {
  const { logger, metrics = createMetrics(), clock = systemClock, trace, basePath, publicPath } = options;
  const supabase = createClient(backends.supabase.url, backends.supabase.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: _countingRpcFetch(metrics, trace) },
  });
  const store = createSupabasePaymentStore(supabase);

  const { lockStore } = backends;
  const redis = lockStore.kind === "upstash"
    ? new Redis({ url: lockStore.url, token: lockStore.token, enableAutoPipelining: true, retry: false })
    : null;
  const inner = lockStore.kind === "service" ? lockStore.locks : createUpstashLockService({
    redis: redis!,
    prefix: config.lock.prefix,
  });
  const locks = createDegradingLockService(inner, {
    timeoutMs: config.lock.redisTimeoutMs,
    onDegraded: ({ key, reason }) => {
      metrics.inc("lock_degraded_total");
      logger.warn("lock store unavailable: proceeding without the lock", { key, reason });
    },
  });

  const provider = createPaystackProvider({
    secretKey: config.provider.secretKey,
    baseUrl: config.provider.baseUrl,
    timeoutMs: config.provider.timeoutMs,
  });
  const verifier = createJwtVerifier({ secret: config.auth.jwtSecret, jwksUrl: config.auth.jwksUrl });
  const perInstance = (rule: RateLimitRule) => createMemoryRateLimiter(rule, { clock });
  const rateLimiters = buildRateLimiters(config, {
    // Per user, shared by every instance: on the lock's Redis, failing open; in memory without one (embedded).
    shared: redis
      ? (rule) =>
        failOpenRateLimiter(createUpstashRateLimiter(rule, { redis, prefix: config.lock.prefix }), {
          timeoutMs: config.lock.redisTimeoutMs,
        })
      : perInstance,
    perInstance,
  });
  const { app, useCases } = createApp({
    config,
    store,
    locks,
    provider,
    verifier,
    logger,
    metrics,
    clock,
    sandbox: backends.sandboxApp,
    basePath,
    publicPath,
    rateLimiters,
    docsAssets: backends.docsAssets,
  });
  return { app, useCases, store, locks, metrics, close: async () => void await locks.drain() };
}

/**
 * The limiters of the configured limits, one-minute windows (a limit of 0
 * is off: no limiter). The per-user ones (`initialize`, `verify`) are built
 * `shared`, so a user cannot multiply them across instances. The per-IP
 * webhook one is built `perInstance`, in memory: webhooks are the credit
 * path, and a Redis round trip before each one would cost every credit for
 * a generous safety valve that each instance can keep alone (N instances
 * admit N times the limit from one source).
 */
export function buildRateLimiters(
  config: Pick<Config, "rateLimit">,
  build: { shared: (rule: RateLimitRule) => RateLimiter; perInstance: (rule: RateLimitRule) => RateLimiter },
): RateLimiters {
  const rule = (name: string, limit: number) => limit > 0 ? { name, limit, windowSeconds: 60 } : null;
  const initialize = rule("initialize", config.rateLimit.initializePerMinute);
  const verify = rule("verify", config.rateLimit.verifyPerMinute);
  const webhook = rule("webhook", config.rateLimit.webhookPerMinute);
  return {
    initialize: initialize ? build.shared(initialize) : undefined,
    verify: verify ? build.shared(verify) : undefined,
    webhook: webhook ? build.perInstance(webhook) : undefined,
  };
}

/**
 * supabase-js' fetch, counting and timing each RPC round trip per function
 * (`db_rpc_requests_total{fn}`, `db_rpc_duration_seconds{fn,status}`): how
 * we measure "at most 2 RPCs" per flow, and the database's latency.
 */
function _countingRpcFetch(metrics: Metrics, trace?: (event: string) => void): typeof fetch {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const fn = /\/rest\/v1\/rpc\/([^/?#]+)/.exec(url)?.[1];
    if (!fn) return await fetch(input, init);
    metrics.inc("db_rpc_requests_total", { fn });
    trace?.(`rpc:${fn}`);
    const started = performance.now();
    let status = "error";
    try {
      const response = await fetch(input, init);
      status = String(response.status);
      return response;
    } finally {
      metrics.observe("db_rpc_duration_seconds", { fn, status }, (performance.now() - started) / 1000);
    }
  };
}
