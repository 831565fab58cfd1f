/**
 * Request ids: every response carries `X-Request-Id`, taken from the request
 * when it is a sane value (so a caller's trace id survives) and made up
 * otherwise. The request's logger carries it too, and so does every line
 * written while the request runs (the log context), use cases included.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import type { Logger } from "../../observability/logger.ts";
import { runWithLogContext } from "../../observability/log_context.ts";

/** Visible ASCII, at most 128 characters: anything else is replaced. */
const ACCEPTABLE_ID = /^[\x21-\x7e]{1,128}$/;

/** Options of {@linkcode requestId}. */
export interface RequestIdOptions {
  /** The base logger; each request gets a child with its id. */
  logger: Logger;
  /** Makes a new id. @default crypto.randomUUID */
  generate?: () => string;
}

/** Sets `requestId` and `log` on the context and `X-Request-Id` on the response. */
export function requestId(
  { logger, generate = () => crypto.randomUUID() }: RequestIdOptions,
): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header("x-request-id");
    const id = incoming && ACCEPTABLE_ID.test(incoming) ? incoming : generate();
    c.set("requestId", id);
    c.set("log", logger.child({ request_id: id }));
    c.header("X-Request-Id", id);
    await runWithLogContext({ request_id: id }, next);
    // Error responses built in onError replace the headers: set it again.
    c.res.headers.set("X-Request-Id", id);
  };
}
