/**
 * The composition root and command line. The only module that reads the
 * environment; everything else receives its configuration.
 *
 * Commands (see `deno.json` tasks):
 * - `serve` (default): run the service (`deno task dev` / `deno task start`)
 * - `reconcile [--provider [--since 48h]] [--every 60s]`: one reconciliation
 *   pass, summary printed as JSON: the stuck-payment pass, or with
 *   `--provider` the provider-window pass (continuing from its cursor;
 *   `--since` re-scans); with `--every`, a pass per period (one JSON line
 *   each) until Ctrl-C, as pg_cron does in production
 * - `migrate`: apply bootstrap + migrations to `DATABASE_URL`
 * - `stack`: run the local RPC gateway and Upstash proxy on their own
 * - `token --user <uuid> | --service-role`: print a dev token
 *
 * The development commands load their modules with `await import()`, so
 * `serve` in cloud mode starts without the Postgres driver, PGlite, ioredis
 * or the local stand-ins (see `src/runtime/build_runtime.ts`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, DEV_JWT_SECRET, DEV_UPSTASH_TOKEN, loadConfig } from "./src/config.ts";
import { parseDuration } from "./src/duration.ts";
import { createLogger } from "./src/observability/logger.ts";
import { buildRuntime } from "./src/runtime/build_runtime.ts";

function _config(): Config {
  try {
    return loadConfig(Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}

function _untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  });
}

async function serve(): Promise<void> {
  const config = _config();
  const runtime = await buildRuntime(config, { logger: createLogger({ level: config.logLevel }) });
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: () => {},
  }, runtime.app.fetch);
  const lines = [
    `SMS payments service listening on ${config.publicBaseUrl} (mode: ${config.mode}, env: ${config.appEnv})`,
    `  database: ${config.database.kind}${
      runtime.endpoints.rpcGateway ? ` via RPC gateway ${runtime.endpoints.rpcGateway}` : ""
    }`,
    `  lock:     ${config.redis.kind}${
      runtime.endpoints.upstashProxy ? ` via Upstash proxy ${runtime.endpoints.upstashProxy}` : ""
    }`,
    `  provider: ${config.provider.sandbox ? `sandbox at ${config.provider.baseUrl}` : config.provider.baseUrl}`,
  ];
  if (config.devDefaults.length > 0) {
    lines.push("  dev defaults in use (never in production):", ...config.devDefaults.map((d) => `    ${d}`));
    lines.push("  get a user token: deno task token --user <uuid>");
  }
  console.log(lines.join("\n"));
  await _untilSignal();
  await server.shutdown();
  await runtime.close();
}

async function reconcile(args: string[]): Promise<void> {
  const usage = "usage: deno task reconcile [--provider [--since 48h]] [--every 60s]";
  let sinceMs: number | undefined;
  let everyMs: number | undefined;
  let provider = false;
  try {
    const { values } = parseArgs({
      args,
      options: { provider: { type: "boolean" }, since: { type: "string" }, every: { type: "string" } },
    });
    provider = values.provider === true;
    if (values.since !== undefined) {
      if (!provider) throw new RangeError("--since applies to --provider");
      sinceMs = parseDuration(values.since);
    }
    if (values.every !== undefined) everyMs = parseDuration(values.every);
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  const config = _config();
  const logger = createLogger({ level: config.logLevel });
  const runtime = await buildRuntime(config, { logger });
  const pass = () =>
    provider
      ? runtime.useCases.reconcileProvider(sinceMs === undefined ? {} : { sinceMs })
      : runtime.useCases.reconcile();
  try {
    if (everyMs === undefined) {
      console.log(JSON.stringify(await pass(), null, 2));
      return;
    }
    // Local stand-in for the pg_cron schedule of production: one pass per period, a JSON line each, until Ctrl-C.
    console.error(`reconciling every ${everyMs / 1000} s (Ctrl-C to stop)`);
    let stopped = false;
    const stop = _untilSignal().then(() => void (stopped = true));
    while (!stopped) {
      const started = Date.now();
      try {
        console.log(JSON.stringify({ at: new Date(started).toISOString(), ...await pass() }));
      } catch (error) {
        logger.error("reconcile pass failed", { error });
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        stop,
        new Promise((resolve) => timer = setTimeout(resolve, everyMs - (Date.now() - started))),
      ]);
      clearTimeout(timer);
    }
  } finally {
    await runtime.close();
  }
}

async function migrateCommand(): Promise<void> {
  const url = Deno.env.get("DATABASE_URL");
  if (!url) {
    console.error("DATABASE_URL is required (embedded mode migrates PGlite at start-up)");
    Deno.exit(2);
  }
  const [{ connectPostgres }, { migrate }] = await Promise.all([
    import("./src/db/sql_client.ts"),
    import("./src/db/migrate.ts"),
  ]);
  const db = connectPostgres(url, { max: 1 });
  try {
    const { applied, skipped } = await migrate(db, { bootstrap: Deno.env.get("SKIP_BOOTSTRAP") !== "1" });
    console.log(
      `applied ${applied.length} migration(s)${
        applied.length ? `: ${applied.join(", ")}` : ""
      }; ${skipped.length} already there`,
    );
  } finally {
    await db.close();
  }
}

async function stack(): Promise<void> {
  const url = Deno.env.get("DATABASE_URL") ?? "postgres://root@127.0.0.1:5432/postgres";
  const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
  const jwtSecret = Deno.env.get("SUPABASE_JWT_SECRET") ?? Deno.env.get("JWT_SECRET") ?? DEV_JWT_SECRET;
  const token = Deno.env.get("UPSTASH_REDIS_REST_TOKEN") ?? DEV_UPSTASH_TOKEN;
  const [{ connectPostgres }, { serveRpcGateway }, { serveUpstashProxy }, { signDevToken }] = await Promise.all([
    import("./src/db/sql_client.ts"),
    import("./src/local/rpc_gateway.ts"),
    import("./src/local/upstash_proxy.ts"),
    import("./src/auth/dev_token.ts"),
  ]);
  const db = connectPostgres(url);
  const gateway = await serveRpcGateway({ db, jwtSecret, port: 54321 });
  const proxy = serveUpstashProxy({ redisUrl, token, port: 8079 });
  console.log(
    [
      `RPC gateway (PostgREST RPC) on ${gateway.url}/rest/v1/rpc/<fn> in front of ${new URL(url).host}`,
      `Upstash REST proxy on ${proxy.url} in front of ${redisUrl} (token: UPSTASH_REDIS_REST_TOKEN, default ${DEV_UPSTASH_TOKEN})`,
      `service_role key: ${await signDevToken({ secret: jwtSecret, role: "service_role", expiresInSeconds: 86_400 })}`,
      "Ctrl-C to stop",
    ].join("\n"),
  );
  await _untilSignal();
  await proxy.close();
  await gateway.close();
  await db.close();
}

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { user: { type: "string" }, "service-role": { type: "boolean" }, hours: { type: "string" } },
  });
  const secret = Deno.env.get("SUPABASE_JWT_SECRET") ?? Deno.env.get("JWT_SECRET") ?? DEV_JWT_SECRET;
  const { signDevToken } = await import("./src/auth/dev_token.ts");
  const hours = Number(values.hours ?? "1");
  if (values["service-role"]) {
    console.log(await signDevToken({ secret, role: "service_role", expiresInSeconds: hours * 3600 }));
    return;
  }
  const user = values.user ?? crypto.randomUUID();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(user)) {
    console.error("--user must be a UUID");
    Deno.exit(2);
  }
  console.log(await signDevToken({ secret, userId: user, expiresInSeconds: hours * 3600 }));
}

if (import.meta.main) {
  const [command = "serve", ...rest] = Deno.args;
  switch (command) {
    case "serve":
      await serve();
      break;
    case "reconcile":
      await reconcile(rest);
      break;
    case "migrate":
      await migrateCommand();
      break;
    case "stack":
      await stack();
      break;
    case "token":
      await token(rest);
      break;
    default:
      console.error(`Unknown command ${command}: use serve, reconcile, migrate, stack or token`);
      Deno.exit(2);
  }
}
