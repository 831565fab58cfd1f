/**
 * The one place errors become HTTP: `AppError` → its problem document,
 * Hono's own HTTP errors (body limit, malformed input) → matching codes,
 * anything else → a 500 with no internals. Also the JSON 404 and 405.
 *
 * @module
 */
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app_env.ts";
import { AppError, type ErrorCode } from "../errors.ts";
import { toProblem } from "./problem.ts";

/** Writes `error` as `application/problem+json`. */
export function problemResponse(c: Context<AppEnv>, error: AppError): Response {
  const body = toProblem(error, c.get("requestId"));
  const headers: Record<string, string> = { "Content-Type": "application/problem+json" };
  if (error.retryAfter !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfter)));
  const requestId = c.get("requestId");
  if (requestId) headers["X-Request-Id"] = requestId;
  return new Response(JSON.stringify(body), { status: error.status, headers: { ...headers, ...error.headers } });
}

function _fromHttpException(error: HTTPException): AppError {
  const byStatus: Record<number, ErrorCode> = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
  };
  const code = byStatus[error.status];
  if (!code) return new AppError("internal_error");
  return error.message ? new AppError(code, { detail: error.message }) : new AppError(code);
}

/** `app.onError`: maps every thrown value to a problem response. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof AppError) {
    if (error.status >= 500) c.var.log?.error("request error", { code: error.code, error, cause: error.cause });
    return problemResponse(c, error);
  }
  if (error instanceof HTTPException) return problemResponse(c, _fromHttpException(error));
  c.var.log?.error("unhandled error", { error, stack: error instanceof Error ? error.stack : undefined });
  return problemResponse(c, new AppError("internal_error", { detail: "Something went wrong on our side" }));
};

function _pathPattern(path: string): RegExp {
  const source = path.split("/").map((part) =>
    part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${source}/?$`);
}

/**
 * `app.notFound`: 405 with `Allow` when the path exists for other methods,
 * otherwise 404; both as problem+json.
 */
export function notFound(app: Hono<AppEnv>): NotFoundHandler<AppEnv> {
  return (c) => {
    const allowed = new Set(
      app.routes.filter((r) => r.method !== "ALL" && _pathPattern(r.path).test(c.req.path)).map((r) => r.method),
    );
    if (allowed.size > 0) {
      if (allowed.has("GET")) allowed.add("HEAD");
      const error = new AppError("method_not_allowed", {
        detail: `${c.req.method} is not allowed on ${c.req.path}`,
        headers: { Allow: [...allowed].sort().join(", ") },
      });
      return problemResponse(c, error);
    }
    return problemResponse(c, new AppError("not_found", { detail: `No route for ${c.req.method} ${c.req.path}` }));
  };
}
