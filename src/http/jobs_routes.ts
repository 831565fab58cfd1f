/**
 * `POST /v1/jobs/reconcile`: one reconciliation pass, for a cron (service
 * role only).
 *
 * - `?scope=payments` (the default): the stuck-payment pass, from our rows.
 * - `?scope=provider[&since=48h]`: the provider-window pass, from the
 *   provider's records; `since` re-scans that far back instead of continuing
 *   from the cursor.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import type { ReconcileSummary } from "../payments/reconcile_payments.ts";
import type { ProviderPassOptions, ProviderPassSummary } from "../payments/reconcile_provider.ts";
import { ProviderPassSummarySchema, ReconcileSummarySchema } from "./api_schemas.ts";
import { DATABASE_PROBLEMS, jsonResponse, problemResponses, SERVICE_AUTH_PROBLEMS } from "./openapi_responses.ts";
import { validationHook } from "./validation_hook.ts";

/** What the jobs routes run. */
export interface JobsUseCases {
  reconcile: () => Promise<ReconcileSummary>;
  reconcileProvider: (options?: ProviderPassOptions) => Promise<ProviderPassSummary>;
}

const _query = z.object({
  scope: z.enum(["payments", "provider"], { error: "scope must be payments or provider" }).default("payments")
    .openapi({
      param: { name: "scope", in: "query" },
      description: "`payments`: payments stuck in pending/processing, from our rows; `provider`: the provider's " +
        "successes of a time window against our credits, continuing from the last complete window",
    }),
  since: z.string().optional().openapi({
    param: { name: "since", in: "query" },
    description: "scope=provider only: re-scan this far back instead of continuing from the cursor (90s, 30m, 48h, 2d)",
    example: "48h",
  }),
});

const reconcileRoute = createRoute({
  method: "post",
  path: "/reconcile",
  tags: ["jobs"],
  summary: "Run one reconciliation pass",
  description: "scope=payments: payments stuck in pending or processing past their thresholds are confirmed with " +
    "the provider and settled, unpaid ones older than RECONCILE_ABANDON_AFTER_HOURS are failed, expired " +
    "idempotency records are purged. scope=provider: every success the provider recorded in the window gets " +
    "exactly one credit. On Supabase, pg_cron calls it every minute (migration `schedule_reconcile`).",
  security: [{ serviceRole: [] }],
  request: { query: _query },
  responses: {
    200: jsonResponse(z.union([ReconcileSummarySchema, ProviderPassSummarySchema]), "What the pass did"),
    ...problemResponses([...SERVICE_AUTH_PROBLEMS, "validation_failed", ...DATABASE_PROBLEMS, "provider_unavailable"]),
  },
});

/** Builds the jobs sub-app (mounted at `/v1/jobs`, behind requireServiceRole). */
export function jobsRoutes({ reconcile, reconcileProvider }: JobsUseCases): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook() });
  app.openapi(reconcileRoute, async (c) => {
    const { scope, since } = c.req.valid("query");
    if (scope === "payments") {
      if (since !== undefined) throw new AppError("validation_failed", { detail: "since applies to scope=provider" });
      return c.json(await reconcile(), 200);
    }
    let sinceMs: number | undefined;
    try {
      sinceMs = since === undefined ? undefined : parseDuration(since);
    } catch (error) {
      throw new AppError("validation_failed", { detail: (error as Error).message });
    }
    return c.json(await reconcileProvider(sinceMs === undefined ? {} : { sinceMs }), 200);
  });
  return app;
}
