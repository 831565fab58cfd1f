/**
 * The service's configuration: read once from the environment by `main.ts`,
 * validated with zod, every problem reported at once.
 *
 * The mode follows from which variables are set (DESIGN §8):
 * - `cloud`: `SUPABASE_URL` is set: Supabase, Upstash and Paystack.
 * - `local`: `DATABASE_URL` is set: real Postgres and Redis behind the local
 *   stand-ins, the sandbox provider unless `PAYSTACK_BASE_URL` is set.
 * - `embedded`: nothing is set: PGlite, an in-memory lock and the sandbox.
 *
 * Supabase reserves names starting with `SUPABASE_` for the variables it
 * injects into Edge Functions (`SUPABASE_URL`, `SUPABASE_SERVICE_ROLE_KEY`),
 * so `supabase secrets set` cannot set `SUPABASE_JWT_SECRET`: `JWT_SECRET` is
 * accepted as the same setting.
 *
 * @module
 */
import { z } from "zod";

/** Supabase's well-known local JWT secret (`supabase start`); dev only. */
export const DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
/** The sandbox provider's secret key; dev only. */
export const DEV_PAYSTACK_SECRET = "sk_test_sandbox";
/** The local Upstash proxy's token, as in Upstash's own local stand-in. */
export const DEV_UPSTASH_TOKEN = "example_token";
/** The database-webhook secret used when none is configured; dev only. */
export const DEV_DB_WEBHOOK_SECRET = "dev-database-webhook-secret";

/** How the service is wired. */
export type Mode = "embedded" | "local" | "cloud";

/** Log levels of `LOG_LEVEL`, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A supported currency: ISO code, minor-unit exponent and amount bounds. */
export interface CurrencyRule {
  code: string;
  /** Digits after the decimal point (2 for kobo, cents). */
  exponent: number;
  /** Smallest amount accepted, in minor units. */
  min: number;
  /** Largest amount accepted, in minor units. */
  max: number;
}

/**
 * Currencies Paystack settles, with bounds: at least 1.00 and at most
 * 10,000,000.00 in major units. Override with `PAYMENT_CURRENCIES` (JSON).
 */
export const DEFAULT_CURRENCIES: readonly CurrencyRule[] = [
  { code: "NGN", exponent: 2, min: 100, max: 1_000_000_000 },
  { code: "GHS", exponent: 2, min: 100, max: 1_000_000_000 },
  { code: "KES", exponent: 2, min: 100, max: 1_000_000_000 },
  { code: "ZAR", exponent: 2, min: 100, max: 1_000_000_000 },
  { code: "USD", exponent: 2, min: 100, max: 1_000_000_000 },
];

/** The validated configuration. */
export interface Config {
  mode: Mode;
  appEnv: "development" | "test" | "production";
  logLevel: typeof LOG_LEVELS[number];
  port: number;
  hostname: string;
  /** Base URL the service is reachable at (used for sandbox URLs). */
  publicBaseUrl: string;
  /** Folder for embedded-mode data (PGlite). */
  dataDir: string;
  maxBodyBytes: number;
  auth: {
    /** HS256 secret of the Supabase project, if any. */
    jwtSecret: string | null;
    /** JWKS endpoint for asymmetric Supabase keys, if any. */
    jwksUrl: string | null;
    /** The project's service-role key (opaque `sb_secret_…` or legacy JWT), if any. */
    serviceRoleKey: string | null;
  };
  database:
    | { kind: "pglite"; dataDir: string }
    | { kind: "postgres"; url: string }
    | { kind: "supabase"; url: string; serviceRoleKey: string };
  redis:
    | { kind: "memory" }
    | { kind: "local"; url: string; token: string }
    | { kind: "upstash"; url: string; token: string };
  provider: {
    /** Serve the sandbox provider under /sandbox/paystack. */
    sandbox: boolean;
    secretKey: string;
    /** Paystack API base; the mounted sandbox when `sandbox` is true. */
    baseUrl: string;
    timeoutMs: number;
    /**
     * Where the provider sends the customer after checkout (Paystack's
     * `callback_url`, e.g. the app's deep link); the provider's dashboard
     * setting when null.
     */
    callbackUrl: string | null;
  };
  lock: {
    /** Key namespace, e.g. `dev` → `dev:lock:payment:<ref>`. */
    prefix: string;
    leaseMs: number;
    waitMs: number;
    /** Give up on Redis after this long and run without the lock. */
    redisTimeoutMs: number;
  };
  idempotency: { lockTimeoutSeconds: number; retentionHours: number };
  reconcile: {
    pendingAfterSeconds: number;
    processingAfterSeconds: number;
    abandonAfterHours: number;
    batchSize: number;
  };
  dbWebhookSecret: string;
  currencies: readonly CurrencyRule[];
  /** `GET /metrics` (service role only), or not served at all. */
  metrics: { enabled: boolean };
  /**
   * Requests per minute: per user on the routes that cost a provider call,
   * per client IP on the webhooks (generous: a provider's retry storm must
   * pass). 0 turns a limit off.
   */
  rateLimit: {
    initializePerMinute: number;
    verifyPerMinute: number;
    webhookPerMinute: number;
    /** Take the client IP from `X-Forwarded-For` (behind Supabase's gateway), not the connection. */
    trustForwardedFor: boolean;
  };
  /** Secrets that fell back to dev defaults (printed at start-up). */
  devDefaults: string[];
}

/** Thrown when the environment is not a valid configuration. */
export class ConfigError extends Error {
  /** One line per problem. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = z.string().url();

const envSchema = z.object({
  APP_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: intFrom(0, 65535).default(8000),
  HOSTNAME: z.string().min(1).default("127.0.0.1"),
  PUBLIC_BASE_URL: url.optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  MAX_BODY_BYTES: intFrom(1024, 10 * 1024 * 1024).default(64 * 1024),
  SUPABASE_URL: url.optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(20).optional(),
  SUPABASE_JWT_SECRET: z.string().min(32).optional(),
  JWT_SECRET: z.string().min(32).optional(),
  SUPABASE_JWKS_URL: url.optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL").optional(),
  UPSTASH_REDIS_REST_URL: url.optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  PAYSTACK_SECRET_KEY: z.string().regex(/^sk_(test|live)_\w+$/, "must look like sk_test_… or sk_live_…").optional(),
  PAYSTACK_BASE_URL: url.optional(),
  PAYSTACK_CALLBACK_URL: url.optional(),
  PROVIDER_TIMEOUT_MS: intFrom(100, 60_000).default(10_000),
  LOCK_PREFIX: z.string().regex(/^[\w.-]{1,40}$/).optional(),
  LOCK_LEASE_MS: intFrom(100, 300_000).default(10_000),
  LOCK_WAIT_MS: intFrom(0, 30_000).default(1_000),
  LOCK_REDIS_TIMEOUT_MS: intFrom(10, 5_000).default(250),
  IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: intFrom(5, 3_600).default(60),
  IDEMPOTENCY_RETENTION_HOURS: intFrom(24, 24 * 30).default(24),
  RECONCILE_PENDING_AFTER_SECONDS: intFrom(0, 86_400 * 7).default(900),
  RECONCILE_PROCESSING_AFTER_SECONDS: intFrom(0, 86_400 * 7).default(300),
  RECONCILE_ABANDON_AFTER_HOURS: intFrom(1, 24 * 30).default(24),
  RECONCILE_BATCH_SIZE: intFrom(1, 1_000).default(100),
  DB_WEBHOOK_SECRET: z.string().min(16).optional(),
  PAYMENT_CURRENCIES: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  METRICS_ENABLED: z.enum(["true", "false"]).default("true"),
  RATE_LIMIT_INITIALIZE_PER_MINUTE: intFrom(0, 1_000_000).default(120),
  RATE_LIMIT_VERIFY_PER_MINUTE: intFrom(0, 1_000_000).default(120),
  RATE_LIMIT_WEBHOOK_PER_MINUTE: intFrom(0, 1_000_000).default(6_000),
  TRUST_FORWARDED_FOR: z.enum(["true", "false"]).optional(),
});

const currencySchema = z.array(
  z.object({
    code: z.string().regex(/^[A-Z]{3}$/),
    exponent: z.number().int().min(0).max(4),
    min: z.number().int().positive(),
    max: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  }).refine((c) => c.min <= c.max, "min must not exceed max"),
).min(1);

/**
 * Validates an environment (a plain record, so tests need no real env) and
 * returns the configuration.
 *
 * @throws {ConfigError} listing every missing or invalid variable
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const devDefaults: string[] = [];
  const mode: Mode = e.SUPABASE_URL ? "cloud" : e.DATABASE_URL ? "local" : "embedded";
  const production = e.APP_ENV === "production";

  const currencies = _currencies(e.PAYMENT_CURRENCIES, problems);
  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://${_hostForUrl(e.HOSTNAME)}:${e.PORT}`).replace(/\/$/, "");

  if (e.SUPABASE_JWT_SECRET && e.JWT_SECRET && e.SUPABASE_JWT_SECRET !== e.JWT_SECRET) {
    problems.push("JWT_SECRET: differs from SUPABASE_JWT_SECRET (two names of one setting: set one)");
  }
  let jwtSecret = e.SUPABASE_JWT_SECRET ?? e.JWT_SECRET ?? null;
  const jwksUrl = e.SUPABASE_JWKS_URL ??
    (mode === "cloud" && e.SUPABASE_URL && !jwtSecret
      ? `${e.SUPABASE_URL.replace(/\/$/, "")}/auth/v1/.well-known/jwks.json`
      : null);
  if (!jwtSecret && mode !== "cloud") {
    jwtSecret = DEV_JWT_SECRET;
    devDefaults.push(`SUPABASE_JWT_SECRET=${DEV_JWT_SECRET}`);
  }
  if (production && jwtSecret === DEV_JWT_SECRET) {
    problems.push(`${e.JWT_SECRET ? "JWT_SECRET" : "SUPABASE_JWT_SECRET"}: the dev secret is refused in production`);
  }

  let database: Config["database"];
  if (mode === "cloud") {
    if (!e.SUPABASE_SERVICE_ROLE_KEY) problems.push("SUPABASE_SERVICE_ROLE_KEY: required with SUPABASE_URL");
    database = { kind: "supabase", url: e.SUPABASE_URL!, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY ?? "" };
  } else if (mode === "local") {
    database = { kind: "postgres", url: e.DATABASE_URL! };
  } else {
    database = { kind: "pglite", dataDir: `${e.DATA_DIR}/pglite` };
    if (production) problems.push("DATABASE_URL or SUPABASE_URL: the embedded database is refused in production");
  }

  let redis: Config["redis"];
  if (e.UPSTASH_REDIS_REST_URL || e.UPSTASH_REDIS_REST_TOKEN) {
    if (!e.UPSTASH_REDIS_REST_URL) problems.push("UPSTASH_REDIS_REST_URL: required with UPSTASH_REDIS_REST_TOKEN");
    if (!e.UPSTASH_REDIS_REST_TOKEN) problems.push("UPSTASH_REDIS_REST_TOKEN: required with UPSTASH_REDIS_REST_URL");
    redis = { kind: "upstash", url: e.UPSTASH_REDIS_REST_URL ?? "", token: e.UPSTASH_REDIS_REST_TOKEN ?? "" };
  } else if (e.REDIS_URL || mode === "local") {
    redis = { kind: "local", url: e.REDIS_URL ?? "redis://127.0.0.1:6379", token: DEV_UPSTASH_TOKEN };
  } else if (mode === "cloud") {
    problems.push("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN: required with SUPABASE_URL");
    redis = { kind: "memory" };
  } else {
    redis = { kind: "memory" };
  }
  if (production && redis.kind !== "upstash") {
    problems.push(
      "UPSTASH_REDIS_REST_URL: production needs Upstash (the in-memory lock and local proxy are dev stand-ins)",
    );
  }

  const sandbox = !e.PAYSTACK_BASE_URL && mode !== "cloud";
  let secretKey = e.PAYSTACK_SECRET_KEY;
  if (!secretKey) {
    if (mode === "cloud") problems.push("PAYSTACK_SECRET_KEY: required with SUPABASE_URL");
    secretKey = DEV_PAYSTACK_SECRET;
    if (mode !== "cloud") devDefaults.push(`PAYSTACK_SECRET_KEY=${DEV_PAYSTACK_SECRET}`);
  }
  if (production && sandbox) problems.push("PAYSTACK_BASE_URL: the sandbox provider is refused in production");
  if (production && secretKey === DEV_PAYSTACK_SECRET) {
    problems.push("PAYSTACK_SECRET_KEY: the sandbox key is refused in production");
  }

  let dbWebhookSecret = e.DB_WEBHOOK_SECRET;
  if (!dbWebhookSecret) {
    if (production) problems.push("DB_WEBHOOK_SECRET: required in production");
    dbWebhookSecret = DEV_DB_WEBHOOK_SECRET;
    devDefaults.push(`DB_WEBHOOK_SECRET=${DEV_DB_WEBHOOK_SECRET}`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    mode,
    appEnv: e.APP_ENV,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    hostname: e.HOSTNAME,
    publicBaseUrl,
    dataDir: e.DATA_DIR,
    maxBodyBytes: e.MAX_BODY_BYTES,
    auth: { jwtSecret, jwksUrl, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY ?? null },
    database,
    redis,
    provider: {
      sandbox,
      secretKey,
      baseUrl: (e.PAYSTACK_BASE_URL ?? (sandbox ? `${publicBaseUrl}/sandbox/paystack` : "https://api.paystack.co"))
        .replace(/\/$/, ""),
      timeoutMs: e.PROVIDER_TIMEOUT_MS,
      callbackUrl: e.PAYSTACK_CALLBACK_URL ?? null,
    },
    lock: {
      prefix: e.LOCK_PREFIX ?? (e.APP_ENV === "production" ? "prod" : e.APP_ENV === "test" ? "test" : "dev"),
      leaseMs: e.LOCK_LEASE_MS,
      waitMs: e.LOCK_WAIT_MS,
      redisTimeoutMs: e.LOCK_REDIS_TIMEOUT_MS,
    },
    idempotency: {
      lockTimeoutSeconds: e.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS,
      retentionHours: e.IDEMPOTENCY_RETENTION_HOURS,
    },
    reconcile: {
      pendingAfterSeconds: e.RECONCILE_PENDING_AFTER_SECONDS,
      processingAfterSeconds: e.RECONCILE_PROCESSING_AFTER_SECONDS,
      abandonAfterHours: e.RECONCILE_ABANDON_AFTER_HOURS,
      batchSize: e.RECONCILE_BATCH_SIZE,
    },
    dbWebhookSecret,
    currencies,
    metrics: { enabled: e.METRICS_ENABLED === "true" },
    rateLimit: {
      initializePerMinute: e.RATE_LIMIT_INITIALIZE_PER_MINUTE,
      verifyPerMinute: e.RATE_LIMIT_VERIFY_PER_MINUTE,
      webhookPerMinute: e.RATE_LIMIT_WEBHOOK_PER_MINUTE,
      trustForwardedFor: e.TRUST_FORWARDED_FOR ? e.TRUST_FORWARDED_FOR === "true" : mode === "cloud",
    },
    devDefaults,
  };
}

function _currencies(raw: string | undefined, problems: string[]): readonly CurrencyRule[] {
  if (!raw) return DEFAULT_CURRENCIES;
  try {
    const parsed = currencySchema.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
    problems.push(
      `PAYMENT_CURRENCIES: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    );
  } catch {
    problems.push("PAYMENT_CURRENCIES: must be a JSON array of {code, exponent, min, max}");
  }
  return DEFAULT_CURRENCIES;
}

function _hostForUrl(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
