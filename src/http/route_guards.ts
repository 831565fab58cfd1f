/**
 * Checks that run before a route's validators, as route middleware, so that
 * a `createRoute` route refuses a request in the same order as a plain
 * handler would (e.g. the service role before the Idempotency-Key, the key
 * before the body): `guard(check)` runs `check` (which throws an
 * `AppError`), then the rest.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./app_env.ts";
import { assertServiceRole } from "./middleware/auth.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { paymentReference } from "./payment_reference.ts";

/**
 * Route middleware running `check` first.
 *
 * @example
 * ```ts
 * createRoute({ ..., middleware: [guard(idempotencyKey), jsonBody()] });
 * ```
 */
export function guard(check: (c: Context<AppEnv>) => unknown): MiddlewareHandler<AppEnv> {
  return async function guardMiddleware(c, next) {
    check(c);
    await next();
  };
}

/** 403 `forbidden` unless the caller is the service role. */
export const serviceRoleOnly: MiddlewareHandler<AppEnv> = guard((c) => assertServiceRole(c.get("principal").role));

/** 400 `idempotency_key_missing` / `idempotency_key_invalid`. */
export const idempotencyKeyRequired: MiddlewareHandler<AppEnv> = guard(idempotencyKey);

/** 404 `payment_not_found` for a `{reference}` that cannot name a payment. */
export const knownReferenceShape: MiddlewareHandler<AppEnv> = guard((c) => paymentReference(c.req.param("reference")!));
