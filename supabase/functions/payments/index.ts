/**
 * The Supabase Edge Function entry (`supabase functions deploy payments`):
 * the same `createApp` as `main.ts`, in cloud mode, under the function's
 * path. Supabase forwards `https://<ref>.supabase.co/functions/v1/payments/…`
 * to the function as `/payments/…`, so the routes live under `/payments`
 * (`/payments/v1/payments`, `/payments/v1/webhooks/paystack`, …); any other
 * path is a problem+json 404.
 *
 * Like `main.ts`, a composition root: it reads the environment once, at
 * start-up. Supabase injects `SUPABASE_URL` and `SUPABASE_SERVICE_ROLE_KEY`;
 * the rest are secrets (`supabase secrets set`): `UPSTASH_REDIS_REST_URL`,
 * `UPSTASH_REDIS_REST_TOKEN`, `PAYSTACK_SECRET_KEY`, `DB_WEBHOOK_SECRET`, and
 * `JWT_SECRET` for projects on the legacy HS256 secret (names starting with
 * `SUPABASE_` are reserved). `APP_ENV` defaults to `production` here.
 *
 * It imports `build_cloud_runtime.ts`, never `build_runtime.ts`: its module
 * graph, static and dynamic, holds no local stand-in
 * (`tests/runtime/cloud_module_graph_test.ts`).
 *
 * `PORT` (with `HOSTNAME`) is for running this file with plain `deno run`;
 * the edge runtime routes requests to the function itself.
 *
 * @module
 */
import { type Config, ConfigError, loadConfig } from "../../../src/config.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { buildCloudRuntime } from "../../../src/runtime/build_cloud_runtime.ts";

/** The function's name, the first path segment of every request it receives. */
const FUNCTION_PATH = "/payments";
/** Where clients reach it (`https://<ref>.supabase.co/functions/v1/payments`): the OpenAPI document's server. */
const PUBLIC_PATH = "/functions/v1/payments";

const env = Deno.env.toObject();
let config: Config;
try {
  config = loadConfig({ APP_ENV: "production", ...env });
} catch (error) {
  // Every problem at once, in the function's logs; then the boot fails.
  if (error instanceof ConfigError) console.error(error.message);
  throw error;
}
const logger = createLogger({ level: config.logLevel }, { function: "payments" });
const runtime = buildCloudRuntime(config, { logger, basePath: FUNCTION_PATH, publicPath: PUBLIC_PATH });

Deno.serve({
  ...(env.PORT ? { port: config.port, hostname: config.hostname } : {}),
  onListen: ({ hostname, port }) =>
    logger.info("listening", { url: `http://${hostname}:${port}${FUNCTION_PATH}`, env: config.appEnv }),
}, runtime.app.fetch);
