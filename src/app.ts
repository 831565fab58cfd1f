/**
 * `createApp(deps)`: the whole HTTP service as a Hono app, built from ports
 * handed in by the composition root (`main.ts`) or by tests. Nothing here
 * reads the environment or opens a connection.
 *
 * The routes are defined with `@hono/zod-openapi` (`createRoute`): the zod
 * schemas they validate with also generate `GET /openapi.json`, shown by
 * `GET /docs`. A route file that adds a sub-app mounts it on `api` below,
 * before `api` is mounted on the app (docs/api.md, "Adding a route").
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./http/app_env.ts";
import type { Config } from "./config.ts";
import { AppError } from "./errors.ts";
import type { JwtVerifier } from "./auth/jwt_verifier.ts";
import type { LockService } from "./lock/lock_service.ts";
import type { Clock } from "./observability/clock.ts";
import type { Logger } from "./observability/logger.ts";
import type { Metrics } from "./observability/metrics.ts";
import type { PaymentProvider } from "./payments/payment_provider.ts";
import type { PaymentStore } from "./payments/payment_store.ts";
import { createConfirmWithProvider } from "./payments/confirm_with_provider.ts";
import { createHandleProviderEvent } from "./payments/handle_provider_event.ts";
import { createPaystackWebhookParser } from "./providers/paystack_webhook.ts";
import { initializeResponses } from "./http/initialize_responses.ts";
import { createInitializePayment } from "./payments/initialize_payment.ts";
import { createReconcilePayments } from "./payments/reconcile_payments.ts";
import { createReconcileProvider } from "./payments/reconcile_provider.ts";
import { createReconcileProviderWindow } from "./payments/reconcile_provider_window.ts";
import { createRunUnderPaymentLock } from "./payments/run_under_payment_lock.ts";
import { createSettlePayment } from "./payments/settle_payment.ts";
import { createVerifyPayment } from "./payments/verify_payment.ts";
import { createRefunds } from "./payments/refund_payment.ts";
import { createDebitWallet } from "./payments/debit_wallet.ts";
import { createHandleDatabaseEvent } from "./payments/handle_database_event.ts";
import type { RateLimiter } from "./rate_limit/rate_limiter.ts";
import { accessLog } from "./http/middleware/access_log.ts";
import { requireServiceRole, requireUser, requireUserOrService } from "./http/middleware/auth.ts";
import { httpMetrics } from "./http/middleware/http_metrics.ts";
import { clientIp, rateLimit } from "./http/middleware/rate_limit.ts";
import { requestId } from "./http/middleware/request_id.ts";
import { notFound, onError } from "./http/problem_handlers.ts";
import { buildOpenApiDocument } from "./http/openapi_document.ts";
import { docsRoutes } from "./http/docs_routes.ts";
import { healthRoutes } from "./http/health_routes.ts";
import { jobsRoutes } from "./http/jobs_routes.ts";
import { metricsRoutes } from "./http/metrics_routes.ts";
import { paymentsRoutes } from "./http/payments_routes.ts";
import { walletRoutes } from "./http/wallet_routes.ts";
import { refundRoutes } from "./http/refund_routes.ts";
import { debitRoutes } from "./http/debit_routes.ts";
import { dbHookRoutes, parseRefundRequest } from "./http/db_hook_routes.ts";
import { webhookRoutes } from "./http/webhook_routes.ts";

/** Everything the app is built from. */
export interface AppDeps {
  config: Pick<
    Config,
    | "maxBodyBytes"
    | "auth"
    | "provider"
    | "lock"
    | "idempotency"
    | "reconcile"
    | "currencies"
    | "publicBaseUrl"
    | "dbWebhookSecret"
    | "metrics"
    | "rateLimit"
  >;
  store: PaymentStore;
  locks: LockService;
  provider: PaymentProvider;
  verifier: JwtVerifier;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** The sandbox provider's routes, mounted at `/sandbox/paystack` (dev and tests only). */
  sandbox?: Hono | undefined;
  /**
   * Prefix of every route, e.g. `/payments` for the Supabase Edge Function,
   * which receives `/functions/v1/payments/...` as `/payments/...`. Request
   * ids, the body limit and the problem+json 404 cover every path.
   * @default "/"
   */
  basePath?: string | undefined;
  /**
   * The path clients reach the routes under, for the OpenAPI document's
   * `servers` (`/functions/v1/payments` for the Edge Function).
   * @default basePath
   */
  publicPath?: string | undefined;
  /**
   * The limiters of the rate-limited routes (`initialize` and `verify` per
   * user, `webhook` per client IP); a missing one means no limit there.
   */
  rateLimiters?: RateLimiters | undefined;
  /**
   * Swagger UI's assets for `/docs`: served by the service itself under
   * `/docs/assets` (local and embedded modes, offline), else from the CDN.
   */
  docsAssets?: Hono | undefined;
}

/** The rate limiters, by route. */
export interface RateLimiters {
  initialize?: RateLimiter | undefined;
  verify?: RateLimiter | undefined;
  webhook?: RateLimiter | undefined;
}

/** The use cases, exposed for `deno task reconcile` and tests. */
export interface AppUseCases {
  reconcile: ReturnType<typeof createReconcilePayments>;
  /** The provider-window pass (`scope=provider`): the provider's successes against our credits. */
  reconcileProvider: ReturnType<typeof createReconcileProvider>;
}

/**
 * Builds the service.
 *
 * @example
 * ```ts
 * const { app } = createApp(deps);
 * Deno.serve({ port: 8000 }, app.fetch);
 * ```
 */
export function createApp(deps: AppDeps): { app: Hono<AppEnv>; useCases: AppUseCases } {
  const { config, store, locks, provider, verifier, logger, metrics, clock } = deps;
  const confirm = createConfirmWithProvider({ store, provider, logger, metrics, clock });
  const runUnderLock = createRunUnderPaymentLock({ locks, store, logger, metrics, lock: config.lock });
  const settle = createSettlePayment({ store, runUnderLock, confirm });
  const refunds = createRefunds({ store, provider, logger, metrics });
  const reconcileWindow = createReconcileProviderWindow({ provider, store, settle, logger, metrics });
  const reconcileProvider = createReconcileProvider({ provider, store, reconcileWindow, clock, logger });
  const initialize = createInitializePayment({
    store,
    provider,
    logger,
    idempotency: config.idempotency,
    responses: initializeResponses,
    callbackUrl: config.provider.callbackUrl ?? undefined,
  });
  const verify = createVerifyPayment({ store, settle });
  const handleEvent = createHandleProviderEvent({ store, runUnderLock, confirm, refunds, logger, metrics });
  const debit = createDebitWallet({ store, logger, metrics });
  const handleDatabaseEvent = createHandleDatabaseEvent({ store, refunds, logger, parseRefundRequest });
  const reconcile = createReconcilePayments({
    store,
    settle,
    refunds,
    handleEvent,
    handleDatabaseEvent,
    logger,
    metrics,
    thresholds: config.reconcile,
  });

  const basePath = deps.basePath && deps.basePath !== "/" ? deps.basePath.replace(/\/$/, "") : "";
  const app = new Hono<AppEnv>();
  app.use(requestId({ logger }));
  app.use(httpMetrics({ metrics, basePath }));
  app.use(accessLog({ clock }));
  app.use(bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: () => {
      throw new AppError("payload_too_large", { detail: `The body may be at most ${config.maxBodyBytes} bytes` });
    },
  }));
  app.onError(onError);

  const user = requireUser({ verifier });
  const service = requireServiceRole({ verifier, serviceRoleKey: config.auth.serviceRoleKey });
  const userOrService = requireUserOrService({ verifier, serviceRoleKey: config.auth.serviceRoleKey });
  // Refunds and debits are the service role's (refund lists, the owner's too);
  // everything else under /v1/payments and /v1/wallet is a signed-in user's.
  const byPath = (shared: (path: string) => boolean): MiddlewareHandler<AppEnv> => (c, next) =>
    shared(c.req.path) ? userOrService(c, next) : user(c, next);
  const limiters = deps.rateLimiters ?? {};
  const limit = (limiter: RateLimiter | undefined, key: (c: Context<AppEnv>) => string) =>
    limiter ? rateLimit({ limiter, key, metrics, clock }) : undefined;
  const perUser = (c: Context<AppEnv>) => `user:${c.get("principal").userId}`;
  const perIp = (c: Context<AppEnv>) => `ip:${clientIp(c, config.rateLimit)}`;

  // Every route of the API, relative to the base path; mounted on `app` once complete.
  const api = new OpenAPIHono<AppEnv>();
  api.route(
    "/",
    healthRoutes({
      probes: { database: () => store.ping(), redis: () => locks.status() },
    }),
  );
  api.use("/v1/payments/*", byPath((path) => path.endsWith("/refunds")));
  api.use("/v1/payments", user);
  api.use("/v1/wallet/*", byPath((path) => path.endsWith("/v1/wallet/debits")));
  api.use("/v1/wallet", user);
  api.use("/v1/jobs/*", service);
  api.route(
    "/v1/payments",
    paymentsRoutes({
      store,
      currencies: config.currencies,
      initialize,
      verify,
      metrics,
      rateLimits: {
        initialize: limit(limiters.initialize, perUser),
        verify: limit(limiters.verify, perUser),
      },
    }),
  );
  api.route("/v1/payments", refundRoutes({ store, refunds }));
  api.route("/v1/wallet", walletRoutes({ store }));
  api.route("/v1/wallet", debitRoutes({ currencies: config.currencies, debit }));
  api.route(
    "/v1/hooks",
    dbHookRoutes({
      secret: config.dbWebhookSecret,
      handle: handleDatabaseEvent,
      rateLimit: limit(limiters.webhook, perIp),
    }),
  );
  api.route(
    "/v1/webhooks",
    webhookRoutes({
      paystack: createPaystackWebhookParser(config.provider.secretKey),
      handle: handleEvent,
      metrics,
      rateLimit: limit(limiters.webhook, perIp),
    }),
  );
  api.route("/v1/jobs", jobsRoutes({ reconcile, reconcileProvider }));
  if (config.metrics.enabled) {
    api.use("/metrics", service);
    api.route("/", metricsRoutes({ metrics }));
  }
  if (deps.docsAssets) api.route("/docs/assets", deps.docsAssets);
  api.route(
    "/",
    docsRoutes({
      document: () => buildOpenApiDocument(api, { serverUrl: deps.publicPath ?? (basePath || "/") }),
      ...(deps.docsAssets ? { assetsUrl: "docs/assets" } : {}),
      title: "SMS payments API",
    }),
  );
  app.route(basePath || "/", api);
  if (deps.sandbox) app.route("/sandbox/paystack", deps.sandbox);
  app.notFound(notFound(app));
  return { app, useCases: { reconcile, reconcileProvider } };
}
