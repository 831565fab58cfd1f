import assert from "node:assert/strict";
import { ConfigError, DEV_JWT_SECRET, DEV_PAYSTACK_SECRET, loadConfig } from "../src/config.ts";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("loadConfig()", async (t) => {
  await t.step("no environment → embedded mode with dev defaults", () => {
    const config = loadConfig({});
    assert.equal(config.mode, "embedded");
    assert.equal(config.port, 8000);
    assert.equal(config.database.kind, "pglite");
    assert.equal(config.redis.kind, "memory");
    assert.equal(config.provider.sandbox, true);
    assert.equal(config.provider.baseUrl, "http://127.0.0.1:8000/sandbox/paystack");
    assert.equal(config.auth.jwtSecret, DEV_JWT_SECRET);
    assert.equal(config.provider.secretKey, DEV_PAYSTACK_SECRET);
    assert.ok(config.devDefaults.some((d) => d.includes(DEV_JWT_SECRET)));
  });

  await t.step("DATABASE_URL → local mode, Redis through the local proxy", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://root@127.0.0.1:5432/x", PORT: "9000" });
    assert.equal(config.mode, "local");
    assert.deepEqual(config.redis, { kind: "local", url: "redis://127.0.0.1:6379", token: "example_token" });
    assert.equal(config.provider.baseUrl, "http://127.0.0.1:9000/sandbox/paystack");
  });

  await t.step("SUPABASE_URL → cloud mode needs every cloud variable, all reported at once", () => {
    const problems = problemsOf({ SUPABASE_URL: "https://x.supabase.co" });
    assert.ok(problems.some((p: string) => p.startsWith("SUPABASE_SERVICE_ROLE_KEY")));
    assert.ok(problems.some((p: string) => p.startsWith("UPSTASH_REDIS_REST_URL")));
    assert.ok(problems.some((p: string) => p.startsWith("PAYSTACK_SECRET_KEY")));
  });

  await t.step("cloud mode without a JWT secret verifies with the project's JWKS", () => {
    const config = loadConfig({
      SUPABASE_URL: "https://x.supabase.co",
      SUPABASE_SERVICE_ROLE_KEY: "sb_secret_0123456789abcdefghij",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "tok",
      PAYSTACK_SECRET_KEY: "sk_live_abc",
    });
    assert.equal(config.mode, "cloud");
    assert.equal(config.auth.jwksUrl, "https://x.supabase.co/auth/v1/.well-known/jwks.json");
    assert.equal(config.provider.baseUrl, "https://api.paystack.co");
    assert.equal(config.provider.sandbox, false);
  });

  await t.step("production refuses the sandbox, the embedded database and dev secrets", () => {
    const text = problemsOf({ APP_ENV: "production" }).join("\n");
    assert.match(text, /embedded database is refused/);
    assert.match(text, /sandbox provider is refused/);
    assert.match(text, /dev secret is refused/);
    assert.match(text, /DB_WEBHOOK_SECRET/);
  });

  await t.step("invalid values are listed with their variable names", () => {
    const text = problemsOf({ PORT: "x", DATABASE_URL: "mysql://nope", PAYSTACK_SECRET_KEY: "pk_test_1" }).join("\n");
    assert.match(text, /PORT/);
    assert.match(text, /DATABASE_URL/);
    assert.match(text, /PAYSTACK_SECRET_KEY/);
  });

  await t.step("JWT_SECRET is SUPABASE_JWT_SECRET under a name Supabase lets a function's secrets use", () => {
    const cloud = {
      SUPABASE_URL: "https://x.supabase.co",
      SUPABASE_SERVICE_ROLE_KEY: "sb_secret_0123456789abcdefghij",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "tok",
      PAYSTACK_SECRET_KEY: "sk_live_abc",
    };
    const secret = "a-project-jwt-secret-of-at-least-32-chars";
    const config = loadConfig({ ...cloud, JWT_SECRET: secret });
    assert.equal(config.auth.jwtSecret, secret);
    assert.equal(config.auth.jwksUrl, null);
    assert.equal(loadConfig({ ...cloud, JWT_SECRET: secret, SUPABASE_JWT_SECRET: secret }).auth.jwtSecret, secret);
    assert.match(
      problemsOf({ ...cloud, JWT_SECRET: secret, SUPABASE_JWT_SECRET: `${secret}-other` }).join("\n"),
      /JWT_SECRET: differs from SUPABASE_JWT_SECRET/,
    );
    assert.match(
      problemsOf({ APP_ENV: "production", JWT_SECRET: DEV_JWT_SECRET }).join("\n"),
      /JWT_SECRET: the dev secret is refused/,
    );
  });

  await t.step("LOG_LEVEL is one of debug, info, warn, error (default info)", () => {
    assert.equal(loadConfig({}).logLevel, "info");
    assert.equal(loadConfig({ LOG_LEVEL: "debug" }).logLevel, "debug");
    assert.match(problemsOf({ LOG_LEVEL: "verbose" }).join("\n"), /LOG_LEVEL/);
  });

  await t.step("PAYMENT_CURRENCIES overrides the currency table and is validated", () => {
    const config = loadConfig({ PAYMENT_CURRENCIES: '[{"code":"NGN","exponent":2,"min":1000,"max":5000}]' });
    assert.deepEqual(config.currencies, [{ code: "NGN", exponent: 2, min: 1000, max: 5000 }]);
    assert.throws(() => loadConfig({ PAYMENT_CURRENCIES: '[{"code":"ngn"}]' }), ConfigError);
    assert.throws(() => loadConfig({ PAYMENT_CURRENCIES: "not json" }), ConfigError);
  });
});
