/**
 * Standalone entry of the sandbox Paystack (`deno task sandbox`): the
 * sandbox app served on its own port, so a service (or curl) can use it as
 * `PAYSTACK_BASE_URL`. Like `main.ts`, this is a composition root: the only
 * place here that reads the environment.
 *
 * Environment:
 * - `PORT` (default 8025), `HOSTNAME` (default 127.0.0.1)
 * - `SANDBOX_DATABASE_URL` or `DATABASE_URL`: Postgres to keep the
 *   `sandbox_paystack` schema in; PGlite under `.data/sandbox` when absent
 * - `WEBHOOK_URL` (default `http://127.0.0.1:8000/v1/webhooks/paystack`)
 * - `PAYSTACK_SECRET_KEY` (default `sk_test_sandbox`): bearer and webhook signing key
 * - `PUBLIC_BASE_URL` (default `http://<HOSTNAME>:<PORT>`): where checkout links point
 * - `SANDBOX_CURRENCIES` (comma-separated codes) or else `PAYMENT_CURRENCIES`
 *   (the service's JSON `[{code, …}]`): the currencies enabled on the sandbox
 *   merchant; the service's default currency table when both are absent
 * - `SANDBOX_REFUND_SCHEDULE_MS` (default `1000,3000`): how long a refund
 *   stays `pending`, then `processing`, before its outcome
 * - `APP_ENV`: `production` is refused
 *
 * @module
 */
import { DEFAULT_CURRENCIES } from "../../config.ts";
import { connectPostgres, openPGlite, type SqlClient } from "../../db/sql_client.ts";
import {
  createSandboxPaystack,
  DEFAULT_REFUND_SCHEDULE,
  ensureSandboxSchema,
  type RefundSchedule,
  SANDBOX_SECRET_KEY,
} from "./sandbox_paystack.ts";

function _log(entry: Record<string, unknown>): void {
  console.error(JSON.stringify({ at: new Date().toISOString(), component: "sandbox_paystack", ...entry }));
}

/**
 * The merchant's currencies: `SANDBOX_CURRENCIES` ("NGN,GHS"), else the codes
 * of the service's `PAYMENT_CURRENCIES`, else the service's defaults, so a
 * standalone sandbox accepts what the service next to it sells.
 */
export function merchantCurrencies(env: Record<string, string | undefined>): string[] {
  if (env.SANDBOX_CURRENCIES) {
    return env.SANDBOX_CURRENCIES.split(",").map((code) => code.trim()).filter((code) => code.length > 0);
  }
  if (env.PAYMENT_CURRENCIES) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.PAYMENT_CURRENCIES);
    } catch {
      throw new Error("PAYMENT_CURRENCIES must be a JSON array of {code, …}");
    }
    if (!Array.isArray(parsed) || parsed.some((rule) => typeof rule?.code !== "string")) {
      throw new Error("PAYMENT_CURRENCIES must be a JSON array of {code, …}");
    }
    return parsed.map((rule: { code: string }) => rule.code);
  }
  return DEFAULT_CURRENCIES.map((rule) => rule.code);
}

/**
 * The refund schedule: `SANDBOX_REFUND_SCHEDULE_MS` ("1000,3000": ms pending,
 * ms processing), else the sandbox's default.
 *
 * @throws {Error} when the variable is not two non-negative integers
 */
export function refundSchedule(env: Record<string, string | undefined>): RefundSchedule {
  const text = env.SANDBOX_REFUND_SCHEDULE_MS;
  if (text === undefined || text.trim() === "") return { ...DEFAULT_REFUND_SCHEDULE };
  const match = /^\s*([0-9]{1,8})\s*,\s*([0-9]{1,8})\s*$/.exec(text);
  if (!match) throw new Error("SANDBOX_REFUND_SCHEDULE_MS must be two waits in ms, e.g. 1000,3000");
  return { pendingMs: Number(match[1]), processingMs: Number(match[2]) };
}

async function _main(): Promise<void> {
  const env = Deno.env.toObject();
  const port = Number(env.PORT ?? "8025");
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a port number, got ${env.PORT}`);
  }
  const hostname = env.HOSTNAME ?? "127.0.0.1";
  const currencies = merchantCurrencies(env);
  const databaseUrl = env.SANDBOX_DATABASE_URL ?? env.DATABASE_URL;

  let db: SqlClient;
  if (databaseUrl) {
    db = connectPostgres(databaseUrl, { max: 5, applicationName: "sandbox-paystack" });
  } else {
    const dataDir = new URL("../../../.data/sandbox", import.meta.url).pathname;
    await Deno.mkdir(dataDir, { recursive: true });
    db = await openPGlite({ dataDir });
  }
  await ensureSandboxSchema(db);

  const sandbox = createSandboxPaystack({
    db,
    secretKey: env.PAYSTACK_SECRET_KEY ?? SANDBOX_SECRET_KEY,
    currencies,
    publicBaseUrl: env.PUBLIC_BASE_URL ?? `http://${hostname}:${port}`,
    webhookUrl: env.WEBHOOK_URL ?? "http://127.0.0.1:8000/v1/webhooks/paystack",
    refundSchedule: refundSchedule(env),
    ...(env.APP_ENV ? { appEnv: env.APP_ENV } : {}),
    log: _log,
  });

  const server = Deno.serve({
    port,
    hostname,
    onListen: ({ hostname, port }) =>
      _log({
        level: "info",
        msg: "sandbox paystack listening",
        url: `http://${hostname}:${port}`,
        database: databaseUrl ? "postgres" : "pglite:.data/sandbox",
        currencies,
        webhook_url: env.WEBHOOK_URL ?? "http://127.0.0.1:8000/v1/webhooks/paystack",
      }),
  }, sandbox.app.fetch);

  const stop = async () => {
    _log({ level: "info", msg: "sandbox paystack stopping" });
    await sandbox.close();
    await server.shutdown();
    await db.close();
    _log({ level: "info", msg: "sandbox paystack stopped" });
  };
  let stopping: Promise<void> | null = null;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stopping ??= stop().then(() => Deno.exit(0));
    });
  }
  await server.finished;
}

if (import.meta.main) {
  await _main().catch((error) => {
    _log({ level: "error", msg: "sandbox paystack failed to start", error: String(error) });
    Deno.exit(1);
  });
}
