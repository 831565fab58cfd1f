/**
 * `POST /v1/hooks/database`: Supabase Database Webhooks. Supabase sends them
 * through pg_net with the headers configured on the hook and no signature, so
 * the caller proves itself with the shared secret header
 * `x-db-webhook-secret` (DB_WEBHOOK_SECRET), compared in constant time
 * before the body is even read: 401 otherwise, nothing written. Malformed
 * payloads are 400; other tables and event types are 200 `ignored`.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app_env.ts";
import { timingSafeEqualText } from "../auth/timing_safe_equal.ts";
import { AppError } from "../errors.ts";
import type { DatabaseEvent, DatabaseEventOutcome, RefundRequestRecord } from "../payments/handle_database_event.ts";
import { DatabaseHookAckSchema } from "./api_schemas.ts";
import { jsonBody } from "./json_body.ts";
import { DATABASE_PROBLEMS, jsonResponse, problemResponses, RATE_LIMIT_HEADERS } from "./openapi_responses.ts";
import { refundView } from "./refund_routes.ts";
import { guard } from "./route_guards.ts";
import { validationHook } from "./validation_hook.ts";

/** The header carrying the shared secret. */
export const DB_WEBHOOK_SECRET_HEADER = "x-db-webhook-secret";

/** Supabase's Database Webhook payload. */
export const databaseEventSchema = z.object({
  type: z.enum(["INSERT", "UPDATE", "DELETE"]),
  table: z.string().min(1).max(63),
  schema: z.string().min(1).max(63),
  record: z.record(z.string(), z.unknown()).nullable(),
  old_record: z.record(z.string(), z.unknown()).nullable(),
}).openapi("DatabaseEvent", {
  description: "Supabase's Database Webhook payload; an INSERT into public.refund_requests starts a refund, " +
    "anything else is answered 200 `ignored`",
});

/** A `refund_requests` row as the hook carries it. */
export const refundRequestRecordSchema = z.object({
  id: z.guid(),
  payment_reference: z.string().min(1).max(100),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable(),
  reason: z.string().min(1).max(500),
  requested_by: z.string().max(200).nullable().optional().transform((v) => v ?? null),
  status: z.string(),
});

/**
 * Parses a `refund_requests` record.
 *
 * @throws {AppError} `bad_request` (400) when the record is not one
 */
export function parseRefundRequest(record: unknown): RefundRequestRecord {
  const parsed = refundRequestRecordSchema.safeParse(record);
  if (!parsed.success) throw new AppError("bad_request", { detail: "The record is not a refund_requests row" });
  return parsed.data;
}

/** Dependencies of {@linkcode dbHookRoutes}. */
export interface DbHookRoutesDeps {
  secret: string;
  handle: (event: DatabaseEvent) => Promise<DatabaseEventOutcome>;
  /** Rate limiter of the webhook endpoints (per client IP, generous). @default none */
  rateLimit?: MiddlewareHandler<AppEnv> | undefined;
}

/** Builds the database-webhook sub-app (mounted at `/v1/hooks`). */
export function dbHookRoutes(
  { secret, handle, rateLimit = async (_c, next) => await next() }: DbHookRoutesDeps,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook() });
  const route = createRoute({
    method: "post",
    path: "/database",
    tags: ["webhooks"],
    summary: "Supabase Database Webhook (refund_requests INSERT)",
    description: `Authenticated by the shared secret in \`${DB_WEBHOOK_SECRET_HEADER}\` (DB_WEBHOOK_SECRET), ` +
      "compared in constant time before the body is read. Rate-limited per client IP together with the provider " +
      "webhooks (generously). Point the Database Webhook on INSERT into " +
      "refund_requests at `<base URL>/v1/hooks/database` with that header.",
    security: [{ databaseWebhookSecret: [] }],
    // The rate limit (per client IP, shared with the provider webhooks), then the secret, then the body.
    middleware: [
      rateLimit,
      guard((c) => {
        if (!timingSafeEqualText(c.req.header(DB_WEBHOOK_SECRET_HEADER) ?? "", secret)) {
          throw new AppError("unauthorized", {
            detail: `Send the database webhook secret in ${DB_WEBHOOK_SECRET_HEADER}`,
          });
        }
      }),
      jsonBody(),
    ] as const,
    request: { body: { required: true, content: { "application/json": { schema: databaseEventSchema } } } },
    responses: {
      200: jsonResponse(
        DatabaseHookAckSchema,
        "Received: a refund started or replayed, refused (recorded), or ignored",
        RATE_LIMIT_HEADERS,
      ),
      ...problemResponses([
        "bad_request",
        "malformed_json",
        "unauthorized",
        "payload_too_large",
        "unsupported_media_type",
        "validation_failed",
        "rate_limited",
        ...DATABASE_PROBLEMS,
        "provider_unavailable",
      ], { headers: { rate_limited: RATE_LIMIT_HEADERS } }),
    },
  });
  app.openapi(route, async (c) => {
    const result = await handle(c.req.valid("json"));
    switch (result.outcome) {
      case "refund_started":
      case "refund_replayed":
        return c.json({ received: true as const, outcome: result.outcome, refund: refundView(result.refund) }, 200);
      case "refused":
        return c.json(
          { received: true as const, outcome: result.outcome, code: result.code, detail: result.detail },
          200,
        );
      case "already_handled":
      case "ignored":
        return c.json({ received: true as const, outcome: result.outcome }, 200);
      default: {
        const unreachable: never = result;
        return unreachable;
      }
    }
  });
  return app;
}
