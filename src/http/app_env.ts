/**
 * The Hono environment shared by every route: per-request variables set by
 * the middleware.
 *
 * @module
 */
import type { Principal } from "../auth/jwt_verifier.ts";
import type { Logger } from "../observability/logger.ts";

/** Hono `Env` of this service. */
export interface AppEnv {
  Variables: {
    /** The request id echoed in `X-Request-Id`. */
    requestId: string;
    /** A logger carrying the request id. */
    log: Logger;
    /** The authenticated caller, set by the auth middleware. */
    principal: Principal;
  };
}
