/**
 * Builds the running service from a {@linkcode Config}: the adapters of the
 * configured mode (DESIGN §8), the local stand-ins where the mode needs them,
 * and the Hono app. Called by `main.ts` (the only reader of the environment)
 * and by tests, which hand in a config of their own.
 *
 * The stand-ins (the RPC gateway over the Postgres driver or PGlite, the
 * Upstash proxy over ioredis, the in-memory lock, the sandbox provider) are
 * loaded with `await import()` in the modes that run them, so the static
 * module graph, and a cloud-mode cold start, carry none of them.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { SqlClient } from "../db/sql_client.ts";
import { systemClock, type Timers } from "../observability/clock.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import type { SandboxPaystack } from "../providers/sandbox/sandbox_paystack.ts";
import { assembleService, type ServiceBackends, type ServiceOptions, type ServiceRuntime } from "./service_runtime.ts";

/**
 * Options of {@linkcode buildRuntime}. No base path: the sandbox's checkout
 * and webhook URLs assume the service at the root of `PUBLIC_BASE_URL`.
 */
export interface BuildRuntimeOptions extends Omit<ServiceOptions, "basePath" | "publicPath"> {
  /** Sandbox webhook retry schedule override (tests use short ones). */
  sandboxRetrySchedule?: number[];
  /** The timers the sandbox's refund steps wait on (tests pass a manual clock). */
  sandboxTimers?: Timers;
  /** Skip applying migrations at start (they are applied by `deno task db:migrate`). @default false */
  skipMigrations?: boolean;
  /**
   * Use this database handle instead of opening one from the config (tests
   * hand in their isolated database). The caller keeps ownership.
   */
  db?: SqlClient;
}

/** A built service and what it runs on. */
export interface Runtime extends ServiceRuntime {
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
  const { logger, clock = systemClock, trace } = options;
  const metrics = options.metrics ?? createMetrics();
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((error) => logger.warn("shutdown step failed", { error }));
  };
  try {
    // --- database: supabase-js → (local gateway →) Postgres / PGlite
    let db: SqlClient | null = null;
    let supabase: ServiceBackends["supabase"];
    let gatewayUrl: string | null = null;
    if (config.database.kind === "supabase") {
      supabase = { url: config.database.url, serviceRoleKey: config.database.serviceRoleKey };
    } else {
      const local = await _startLocalDatabase(config, options, closers);
      db = local.db;
      supabase = local.supabase;
      gatewayUrl = local.supabase.url;
    }

    // --- lock: @upstash/redis → (local proxy →) Redis, or in memory
    let lockStore: ServiceBackends["lockStore"];
    let proxyUrl: string | null = null;
    if (config.redis.kind === "upstash") {
      lockStore = { kind: "upstash", url: config.redis.url, token: config.redis.token };
    } else if (config.redis.kind === "local") {
      proxyUrl = await _serveLocalUpstash(config.redis, metrics, trace, closers);
      lockStore = { kind: "upstash", url: proxyUrl, token: config.redis.token };
    } else {
      const { createMemoryLockService } = await import("../lock/memory_lock_service.ts");
      lockStore = { kind: "service", locks: createMemoryLockService({ clock }) };
    }

    // Registered before the sandbox's closer so that it runs after it: the
    // sandbox stops delivering webhooks before in-flight lock releases drain.
    let drainLocks: () => Promise<void> = () => Promise.resolve();
    closers.push(() => drainLocks());

    // --- provider: Paystack over HTTP (the mounted sandbox in dev and tests)
    let sandbox: SandboxPaystack | null = null;
    if (config.provider.sandbox) {
      if (!db) throw new Error("The sandbox provider needs the local database");
      sandbox = await _startSandbox(config, db, options, closers);
    }

    // Local modes serve the docs page's assets from the npm package, so /docs works offline.
    const docsAssets = config.mode === "cloud"
      ? undefined
      : (await import("../local/swagger_ui_assets.ts")).swaggerUiAssets();
    const service = assembleService(
      config,
      { supabase, lockStore, sandboxApp: sandbox?.app, docsAssets },
      {
        logger,
        metrics,
        clock,
        ...(trace ? { trace } : {}),
      },
    );
    drainLocks = service.close;
    return {
      ...service,
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

/** Opens (or adopts) the local database, migrates it and serves the RPC gateway in front of it. */
async function _startLocalDatabase(
  config: Config,
  options: BuildRuntimeOptions,
  closers: Array<() => Promise<void>>,
): Promise<{ db: SqlClient; supabase: ServiceBackends["supabase"] }> {
  const [{ connectPostgres, openPGlite }, { migrate }, { serveRpcGateway }, { signDevToken }] = await Promise.all([
    import("../db/sql_client.ts"),
    import("../db/migrate.ts"),
    import("../local/rpc_gateway.ts"),
    import("../auth/dev_token.ts"),
  ]);
  let db: SqlClient;
  if (options.db) {
    db = options.db;
  } else {
    const opened = config.database.kind === "pglite"
      ? await openPGlite({ dataDir: config.database.dataDir })
      : config.database.kind === "postgres"
      ? connectPostgres(config.database.url)
      : null;
    if (!opened) throw new Error(`No local database in ${config.mode} mode`);
    closers.push(() => opened.close());
    db = opened;
  }
  if (!options.skipMigrations) await migrate(db);
  const jwtSecret = config.auth.jwtSecret!;
  const gateway = await serveRpcGateway({ db, jwtSecret, port: 0 });
  closers.push(() => gateway.close());
  const serviceRoleKey = await signDevToken({
    secret: jwtSecret,
    role: "service_role",
    expiresInSeconds: 10 * 365 * 86_400,
  });
  return { db, supabase: { url: gateway.url, serviceRoleKey } };
}

/** Serves the Upstash proxy in front of the local Redis; answers its URL. */
async function _serveLocalUpstash(
  redis: { url: string; token: string },
  metrics: Metrics,
  trace: ((event: string) => void) | undefined,
  closers: Array<() => Promise<void>>,
): Promise<string> {
  const { createUpstashProxy } = await import("../local/upstash_proxy.ts");
  // Served here rather than with serveUpstashProxy so that each REST
  // round trip is counted (redis_rest_requests_total).
  const proxy = createUpstashProxy({ redisUrl: redis.url, token: redis.token });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    metrics.inc("redis_rest_requests_total");
    trace?.("redis");
    return proxy.fetch(req);
  });
  closers.push(async () => {
    await server.shutdown();
    await proxy.close();
  });
  return `http://127.0.0.1:${server.addr.port}`;
}

/** Creates the sandbox provider on the local database, mounted at `/sandbox/paystack`. */
async function _startSandbox(
  config: Config,
  db: SqlClient,
  options: BuildRuntimeOptions,
  closers: Array<() => Promise<void>>,
): Promise<SandboxPaystack> {
  const { createSandboxPaystack, ensureSandboxSchema } = await import("../providers/sandbox/sandbox_paystack.ts");
  await ensureSandboxSchema(db);
  const sandbox = createSandboxPaystack({
    db,
    secretKey: config.provider.secretKey,
    currencies: config.currencies.map((rule) => rule.code),
    publicBaseUrl: `${config.publicBaseUrl}/sandbox/paystack`,
    webhookUrl: `${config.publicBaseUrl}/v1/webhooks/paystack`,
    appEnv: config.appEnv,
    log: (entry) => options.logger.info("sandbox", entry),
    ...(options.sandboxRetrySchedule ? { retrySchedule: options.sandboxRetrySchedule } : {}),
    ...(options.sandboxTimers ? { timers: options.sandboxTimers } : {}),
  });
  closers.push(() => sandbox.close());
  return sandbox;
}
