/**
 * The fast tier: `createApp` in process, driven with `app.request()` only.
 *
 * - The store is the production adapter (supabase-js → local RPC gateway →
 *   PGlite), wired by `buildRuntime` exactly as embedded mode wires it, on
 *   one migrated PGlite per process, copied from a template (PGlite's
 *   initdb is the slow part).
 * - The provider is scripted by each test (tests/support/scripted_provider.ts).
 * - The lock is the in-memory one, or a fake the test hands in.
 *
 * No Postgres, no Redis, no sandbox: these suites run the same everywhere
 * and reach branches the full stack cannot (the provider answering for
 * another payment, fences going backwards).
 *
 * @module
 */
import type { Hono } from "hono";
import { type AppDeps, createApp } from "../../src/app.ts";
import { createJwtVerifier } from "../../src/auth/jwt_verifier.ts";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { type Config, DEV_JWT_SECRET, loadConfig } from "../../src/config.ts";
import type { SqlClient } from "../../src/db/sql_client.ts";
import type { AppEnv } from "../../src/http/app_env.ts";
import type { LockService } from "../../src/lock/lock_service.ts";
import { createMemoryLockService } from "../../src/lock/memory_lock_service.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { buildRuntime } from "../../src/runtime/build_runtime.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { openMigratedPGlite } from "../support/pglite_template.ts";
import { checkoutFor, createScriptedProvider, type ScriptedProvider } from "../support/scripted_provider.ts";

/** The payment store port, as the app takes it. */
export type Store = AppDeps["store"];

/** One migrated PGlite behind the RPC gateway, shared by the tests of a process. */
export interface AppDatabase {
  config: Config;
  /** The engine itself, to look at rows directly. */
  db: SqlClient;
  /** The production store adapter over it. */
  store: Store;
}

let _shared: Promise<AppDatabase> | undefined;

/**
 * The process's migrated PGlite and the production store over it, opened on
 * first use: once per test file under `deno test --parallel` (a process per
 * file), once for the whole tier otherwise. Call it at the top level of a
 * test file, outside any test, so that Deno's leak sanitizers do not count
 * what it opens against the first test. It is never closed: it is in memory
 * and ends with the process.
 *
 * Tests sharing it stay independent by using fresh users and references.
 */
export function appDatabase(): Promise<AppDatabase> {
  _shared ??= _openAppDatabase();
  return _shared;
}

/**
 * Opens a migrated PGlite (a copy of the template, see pglite_template.ts)
 * and builds the embedded runtime on it for its store (the runtime's own app
 * is not used).
 */
async function _openAppDatabase(): Promise<AppDatabase> {
  // Embedded mode (no DATABASE_URL, no REDIS_URL); a provider URL so that no sandbox is built.
  const config = loadConfig({ APP_ENV: "test", PAYSTACK_BASE_URL: "https://provider.invalid" });
  const { db, dataDir } = await openMigratedPGlite();
  // Never closed (the process shares it): its folder goes when the process ends.
  globalThis.addEventListener("unload", () => Deno.removeSync(dataDir, { recursive: true }));
  const runtime = await buildRuntime(config, { logger: silentLogger, db, skipMigrations: true });
  return { config, db, store: runtime.store };
}

/** Options of {@linkcode createTestApp}. */
export interface TestAppOptions {
  /** @default a new scripted provider */
  provider?: ScriptedProvider;
  /** @default a new in-memory lock */
  locks?: LockService;
  /** @default the database's store */
  store?: Store;
}

/** An app under test. */
export interface TestApp {
  app: Hono<AppEnv>;
  provider: ScriptedProvider;
  metrics: Metrics;
  /** Log lines the app wrote (parsed JSON). */
  logs: Array<Record<string, unknown>>;
  /** `app.request()`: the whole HTTP stack in process, no socket. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** A user's access token (a random user when omitted). */
  userToken(userId?: string): Promise<string>;
  /** Posts a webhook body signed with the configured Paystack secret. */
  postWebhook(rawBody: string): Promise<Response>;
}

/** Builds the app on `database` with a scripted provider. Cheap: one per test. */
export function createTestApp(
  database: AppDatabase,
  { provider = createScriptedProvider(), locks = createMemoryLockService(), store = database.store }: TestAppOptions =
    {},
): TestApp {
  const { config } = database;
  const logs: Array<Record<string, unknown>> = [];
  const metrics = createMetrics();
  const { app } = createApp({
    config,
    store,
    locks,
    provider,
    verifier: createJwtVerifier({ secret: config.auth.jwtSecret, jwksUrl: config.auth.jwksUrl }),
    logger: createLogger({ level: "debug", write: (line) => logs.push(JSON.parse(line)) }),
    metrics,
    clock: { now: () => Date.now() },
  });
  const request = async (path: string, init?: RequestInit) => await app.request(path, init);
  return {
    app,
    provider,
    metrics,
    logs,
    request,
    userToken: (userId = crypto.randomUUID()) =>
      signDevToken({ secret: config.auth.jwtSecret ?? DEV_JWT_SECRET, userId }),
    async postWebhook(rawBody) {
      const signature = await signPaystackBody(config.provider.secretKey, rawBody);
      return await request("/v1/webhooks/paystack", {
        method: "POST",
        headers: { "Content-Type": "application/json", "x-paystack-signature": signature },
        body: rawBody,
      });
    },
  };
}

/** A payment initialized through `POST /v1/payments`. */
export interface InitializedPayment {
  userId: string;
  token: string;
  reference: string;
  amount: number;
}

/** Initializes a payment for a new user, the provider answering with a checkout. */
export async function initializePayment(app: TestApp, amount = 250_000): Promise<InitializedPayment> {
  const userId = crypto.randomUUID();
  const token = await app.userToken(userId);
  app.provider.script.initialize.push(checkoutFor);
  const res = await send(app, "POST", "/v1/payments", {
    token,
    body: { amount, currency: "NGN" },
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
  const body = await expectJson(res, 201);
  return { userId, token, reference: String(body.reference), amount };
}
