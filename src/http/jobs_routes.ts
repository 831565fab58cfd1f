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
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import type { ReconcileSummary } from "../payments/reconcile_payments.ts";
import type { ProviderPassOptions, ProviderPassSummary } from "../payments/reconcile_provider.ts";

/** What the jobs routes run. */
export interface JobsUseCases {
  reconcile: () => Promise<ReconcileSummary>;
  reconcileProvider: (options?: ProviderPassOptions) => Promise<ProviderPassSummary>;
}

const _query = z.object({
  scope: z.enum(["payments", "provider"]).default("payments"),
  since: z.string().optional(),
});

/** Builds the jobs sub-app (mounted at `/v1/jobs`, behind requireServiceRole). */
export function jobsRoutes({ reconcile, reconcileProvider }: JobsUseCases): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/reconcile", async (c) => {
    const parsed = _query.safeParse(c.req.query());
    if (!parsed.success) {
      throw new AppError("validation_failed", { detail: "scope must be payments or provider" });
    }
    const { scope, since } = parsed.data;
    if (scope === "payments") {
      if (since !== undefined) throw new AppError("validation_failed", { detail: "since applies to scope=provider" });
      return c.json(await reconcile());
    }
    let sinceMs: number | undefined;
    try {
      sinceMs = since === undefined ? undefined : parseDuration(since);
    } catch (error) {
      throw new AppError("validation_failed", { detail: (error as Error).message });
    }
    return c.json(await reconcileProvider(sinceMs === undefined ? {} : { sinceMs }));
  });
  return app;
}
