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
import { type AppDeps, type AppUseCases, createApp } from "../app.ts";
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
  const { logger, metrics = createMetrics(), clock = systemClock, trace, basePath } = options;
  const supabase = createClient(backends.supabase.url, backends.supabase.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: _countingRpcFetch(metrics, trace) },
  });
  const store = createSupabasePaymentStore(supabase);

  const { lockStore } = backends;
  const inner = lockStore.kind === "service" ? lockStore.locks : createUpstashLockService({
    redis: new Redis({ url: lockStore.url, token: lockStore.token, enableAutoPipelining: true, retry: false }),
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
  });
  return { app, useCases, store, locks, metrics, close: async () => void await locks.drain() };
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
