/**
 * The cloud runtime alone: Supabase, Upstash and Paystack. The Supabase Edge
 * Function imports this module rather than `build_runtime.ts`, whose dynamic
 * imports of the local stand-ins the deploy bundler would follow and ship
 * (PGlite alone is 22 MB), although cloud mode never runs them.
 *
 * @module
 */
import { type Config, ConfigError } from "../config.ts";
import { assembleService, type ServiceOptions, type ServiceRuntime } from "./service_runtime.ts";

/**
 * Builds the service of a cloud-mode config. Opens no connection and starts
 * no server, so it costs a cold start nothing but object construction.
 *
 * @throws {ConfigError} when `config` is not cloud mode (Supabase, Upstash and Paystack)
 * @example
 * ```ts
 * const runtime = buildCloudRuntime(loadConfig(Deno.env.toObject()), { logger, basePath: "/payments" });
 * Deno.serve(runtime.app.fetch);
 * ```
 */
export function buildCloudRuntime(config: Config, options: ServiceOptions): ServiceRuntime {
  const { database, redis, provider } = config;
  if (config.mode !== "cloud" || database.kind !== "supabase" || redis.kind !== "upstash" || provider.sandbox) {
    throw new ConfigError([
      `SUPABASE_URL: the cloud runtime needs Supabase, Upstash and Paystack (mode is ${config.mode}: ` +
      `database ${database.kind}, lock ${redis.kind}, provider ${provider.sandbox ? "sandbox" : "paystack"})`,
    ]);
  }
  return assembleService(config, {
    supabase: { url: database.url, serviceRoleKey: database.serviceRoleKey },
    lockStore: { kind: "upstash", url: redis.url, token: redis.token },
  }, options);
}
