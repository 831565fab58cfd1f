/**
 * `POST /v1/jobs/reconcile`: one reconciliation pass, for a cron (service
 * role only).
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { ReconcileSummary } from "../payments/reconcile_payments.ts";

/** Builds the jobs sub-app (mounted at `/v1/jobs`, behind requireServiceRole). */
export function jobsRoutes({ reconcile }: { reconcile: () => Promise<ReconcileSummary> }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/reconcile", async (c) => c.json(await reconcile()));
  return app;
}
