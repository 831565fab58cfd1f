/**
 * `GET /health` (liveness: the process answers) and `GET /ready`
 * (readiness: the database answers; Redis is reported but only degrades,
 * because payments settle correctly without the lock).
 *
 * @module
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import { HealthSchema, ReadinessSchema } from "./api_schemas.ts";
import { jsonResponse } from "./openapi_responses.ts";

/** A dependency probe: resolves when healthy, rejects or reports otherwise. */
export interface ReadinessProbes {
  /** Throws when the database cannot be reached. */
  database(): Promise<void>;
  /** The lock backend's state. */
  redis(): Promise<{ ok: boolean; detail?: string }>;
}

/** Options of {@linkcode healthRoutes}. */
export interface HealthRoutesOptions {
  probes: ReadinessProbes;
  /** A probe that has not answered by then counts as failed. @default 2000 */
  timeoutMs?: number;
}

type CheckResult = { status: "ok" | "down" | "degraded"; detail?: string };

async function _check(probe: () => Promise<unknown>, timeoutMs: number): Promise<{ ok: boolean; detail?: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([probe(), timeout]);
    if (result && typeof result === "object" && "ok" in result) return result as { ok: boolean; detail?: string };
    return { ok: true };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : "unreachable" };
  } finally {
    clearTimeout(timer);
  }
}

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["operations"],
  summary: "Liveness",
  description: "200 whenever the process answers. No authentication.",
  responses: { 200: jsonResponse(HealthSchema, "The process answers") },
});

const ready = createRoute({
  method: "get",
  path: "/ready",
  tags: ["operations"],
  summary: "Readiness: the database and Redis",
  description: "503 when the database does not answer. Redis being down is `degraded`, not down: payments keep " +
    "settling correctly without the lock. No authentication.",
  responses: {
    200: jsonResponse(ReadinessSchema, "Ready (`ok`, or `degraded` without Redis)"),
    503: jsonResponse(ReadinessSchema, "Not ready: the database does not answer (`down`)"),
  },
});

/** Builds the health sub-app. */
export function healthRoutes({ probes, timeoutMs = 2000 }: HealthRoutesOptions): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(ready, async (c) => {
    const [db, redis] = await Promise.all([_check(probes.database, timeoutMs), _check(probes.redis, timeoutMs)]);
    const checks: { database: CheckResult; redis: CheckResult } = {
      database: db.ok ? { status: "ok" } : { status: "down", detail: "database unreachable" },
      redis: redis.ok ? { status: "ok" } : { status: "degraded", detail: "lock unavailable; running without it" },
    };
    if (!db.ok) c.var.log.error("readiness: database down", { detail: db.detail });
    if (!redis.ok) c.var.log.warn("readiness: redis degraded", { detail: redis.detail });
    const status = !db.ok ? "down" : !redis.ok ? "degraded" : "ok";
    return db.ok ? c.json({ status, checks }, 200) : c.json({ status, checks }, 503);
  });
  return app;
}
