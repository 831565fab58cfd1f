/**
 * Authentication middleware: Supabase user access tokens for client routes,
 * the service-role key for staff and job routes.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import { isUuid, type JwtVerifier } from "../../auth/jwt_verifier.ts";
import { AppError } from "../../errors.ts";
import { timingSafeEqualText } from "../../auth/timing_safe_equal.ts";
import { addLogContext } from "../../observability/log_context.ts";

function _bearer(header: string | undefined): string {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) throw new AppError("unauthorized", { detail: "Send Authorization: Bearer <access token>" });
  return match[1];
}

/** Options of {@linkcode requireUser}. */
export interface RequireUserOptions {
  verifier: JwtVerifier;
}

/**
 * Admits a signed-in user: a valid token with `aud` and `role`
 * `authenticated` and a `sub` (the verifier has already refused a `sub` that
 * is not a UUID). Sets `principal`, and `user_id` in the log context (the
 * id only: never the token or the e-mail).
 */
export function requireUser({ verifier }: RequireUserOptions): MiddlewareHandler<AppEnv> {
  return async function requireUserMiddleware(c, next) {
    const principal = await verifier.verify(_bearer(c.req.header("authorization")), { audience: "authenticated" });
    if (principal.role !== "authenticated" || !isUuid(principal.userId)) {
      throw new AppError("invalid_token", { detail: "Token is not a signed-in user's access token" });
    }
    c.set("principal", principal);
    addLogContext({ user_id: principal.userId });
    await next();
  };
}

/** Options of {@linkcode requireServiceRole}. */
export interface RequireServiceRoleOptions {
  verifier: JwtVerifier;
  /** The project's service-role key, compared as an opaque secret. */
  serviceRoleKey: string | null;
}

/**
 * Admits the service role: the configured key itself (opaque `sb_secret_…`
 * keys), or a token signed with the project's secret whose role is
 * `service_role` (legacy JWT keys, and dev keys from `deno task token`).
 */
export function requireServiceRole({ verifier, serviceRoleKey }: RequireServiceRoleOptions): MiddlewareHandler<AppEnv> {
  return async function requireServiceRoleMiddleware(c, next) {
    const token = _bearer(c.req.header("authorization"));
    if (serviceRoleKey && timingSafeEqualText(token, serviceRoleKey)) {
      c.set("principal", { userId: "", role: "service_role", claims: {} });
      addLogContext({ role: "service_role" });
      return await next();
    }
    const principal = await verifier.verify(token);
    if (principal.role !== "service_role") {
      throw new AppError("forbidden", { detail: "This endpoint needs the service role" });
    }
    c.set("principal", principal);
    addLogContext({ role: "service_role" });
    await next();
  };
}

/**
 * Admits either: the service role (as {@linkcode requireServiceRole}) or a
 * signed-in user (as {@linkcode requireUser}). For routes both may use, each
 * with its own view (e.g. a payment's refunds: staff see any payment's, a
 * user only their own). Handlers tell them apart by `principal.role`.
 */
export function requireUserOrService(
  { verifier, serviceRoleKey }: RequireServiceRoleOptions,
): MiddlewareHandler<AppEnv> {
  const user = requireUser({ verifier });
  return async function requireUserOrServiceMiddleware(c, next) {
    const token = _bearer(c.req.header("authorization"));
    if (serviceRoleKey && timingSafeEqualText(token, serviceRoleKey)) {
      c.set("principal", { userId: "", role: "service_role", claims: {} });
      return await next();
    }
    const principal = await verifier.verify(token);
    if (principal.role === "service_role") {
      c.set("principal", principal);
      return await next();
    }
    return await user(c, next);
  };
}

/** Refuses anyone but the service role (after {@linkcode requireUserOrService}). */
export function assertServiceRole(role: string): void {
  if (role !== "service_role") throw new AppError("forbidden", { detail: "This endpoint needs the service role" });
}
