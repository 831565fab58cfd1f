/**
 * The service as separate processes, started the way it is deployed or run
 * by a developer (see README "Modes"):
 *
 * | kind | command | backing services |
 * | --- | --- | --- |
 * | `baseline` | `deno run bench/startup/hello_server.ts` | none: the runtime's own floor |
 * | `cloud` | `deno run -A main.ts serve` with `SUPABASE_URL`, `UPSTASH_REDIS_REST_URL`, `PAYSTACK_BASE_URL` | the stand-ins process as Supabase, Upstash and Paystack |
 * | `edge` | `deno run --allow-net --allow-env supabase/functions/payments/index.ts` (as the edge-runtime test runs it) | the same |
 * | `local` | `deno run -A main.ts serve` with `DATABASE_URL`, `REDIS_URL` | starts its own RPC gateway, Upstash proxy and sandbox; checks the migrations |
 * | `embedded` | `deno run -A main.ts serve` with nothing set (`DATA_DIR`) | PGlite in the process, migrated at start |
 *
 * @module
 */
import { signDevToken } from "../../src/auth/dev_token.ts";
import { BENCH_RATE_LIMITS } from "./bench_stack.ts";
import { type Child, freePort, startChild } from "./processes.ts";
import type { StandInsProcess } from "./processes.ts";

/** A way of starting the service. */
export type ServiceKind = "baseline" | "cloud" | "edge" | "local" | "embedded";

/**
 * Secrets of the cloud-shaped processes and their stand-ins: not the dev
 * defaults, which production (the Edge Function's default `APP_ENV`)
 * refuses.
 */
export interface CloudSecrets {
  jwtSecret: string;
  paystackSecret: string;
  upstashToken: string;
}

/** Fresh {@linkcode CloudSecrets}. */
export function newCloudSecrets(): CloudSecrets {
  const hex = () => crypto.randomUUID().replaceAll("-", "");
  return { jwtSecret: `bench${hex()}${hex()}`, paystackSecret: `sk_test_bench${hex()}`, upstashToken: hex() };
}

/** Where a `cloud` or `edge` process finds its backing services. */
export interface CloudBackends {
  standIns: Pick<StandInsProcess, "gatewayUrl" | "proxyUrl" | "sandboxUrl">;
  secrets: CloudSecrets;
  /** Key namespace in Redis (shared by instances that lock each other out). */
  lockPrefix: string;
}

/** What `local` and `embedded` need. */
export interface LocalSettings {
  databaseUrl: string;
  redisUrl: string;
  /** Embedded mode's data folder. */
  dataDir: string;
  lockPrefix: string;
}

/** A service process. */
export interface ServiceProcess extends Child {
  kind: ServiceKind;
  /** Prefix of its routes (`/payments` for the Edge Function). */
  basePath: string;
}

const ENTRY = {
  baseline: ["run", "--allow-net", "--allow-env", "bench/startup/hello_server.ts"],
  cloud: ["run", "-A", "main.ts", "serve"],
  edge: ["run", "--allow-net", "--allow-env", "supabase/functions/payments/index.ts"],
  local: ["run", "-A", "main.ts", "serve"],
  embedded: ["run", "-A", "main.ts", "serve"],
} as const;

/** The environment of a cloud-mode process. */
export async function cloudEnv(backends: CloudBackends): Promise<Record<string, string>> {
  return {
    SUPABASE_URL: backends.standIns.gatewayUrl,
    SUPABASE_SERVICE_ROLE_KEY: await signDevToken({
      secret: backends.secrets.jwtSecret,
      role: "service_role",
      expiresInSeconds: 86_400,
    }),
    JWT_SECRET: backends.secrets.jwtSecret,
    UPSTASH_REDIS_REST_URL: backends.standIns.proxyUrl,
    UPSTASH_REDIS_REST_TOKEN: backends.secrets.upstashToken,
    PAYSTACK_SECRET_KEY: backends.secrets.paystackSecret,
    PAYSTACK_BASE_URL: backends.standIns.sandboxUrl,
    DB_WEBHOOK_SECRET: "bench-db-webhook-secret-0123456789",
    LOCK_PREFIX: backends.lockPrefix,
    ...BENCH_RATE_LIMITS,
  };
}

/** Starts one service process of `kind`; resolves at its first 200 on `/health`. */
export async function startService(
  kind: ServiceKind,
  settings: { cloud?: CloudBackends; local?: LocalSettings },
): Promise<ServiceProcess> {
  const port = freePort();
  const common = { PORT: String(port), HOSTNAME: "127.0.0.1", LOG_LEVEL: "info" };
  let env: Record<string, string>;
  switch (kind) {
    case "baseline":
      env = { PORT: String(port) };
      break;
    case "cloud":
      env = { ...common, APP_ENV: "test", ...await cloudEnv(settings.cloud!) };
      break;
    case "edge":
      // APP_ENV left to the entry's default (production), as deployed.
      env = { ...common, ...await cloudEnv(settings.cloud!) };
      break;
    case "local":
      env = {
        ...common,
        APP_ENV: "test",
        DATABASE_URL: settings.local!.databaseUrl,
        REDIS_URL: settings.local!.redisUrl,
        LOCK_PREFIX: settings.local!.lockPrefix,
        ...BENCH_RATE_LIMITS,
      };
      break;
    case "embedded":
      env = { ...common, APP_ENV: "test", DATA_DIR: settings.local!.dataDir, LOCK_PREFIX: settings.local!.lockPrefix };
      break;
  }
  const basePath = kind === "edge" ? "/payments" : "";
  const child = await startChild({ args: [...ENTRY[kind]], env, port, healthPath: `${basePath}/health` });
  return { ...child, kind, basePath };
}
