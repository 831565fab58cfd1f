/**
 * Reading and validating JSON bodies: wrong media type → 415, unparsable →
 * 400 `malformed_json`, schema failure → 422 `validation_failed` with every
 * issue listed (path and message), never a 500 for the client's mistake.
 *
 * Routes defined with `createRoute` validate the body with the route's own
 * schema; {@linkcode jsonBody} runs first, so that the media type, the JSON
 * syntax and text Postgres cannot store (U+0000) are refused with the same
 * codes on every route.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { AppError } from "../errors.ts";
import { assertJsonDepth, nulPath } from "./json_depth.ts";

/** Turns zod issues into the `errors` list of a validation problem. */
export function validationError(error: z.ZodError, detail = "The request does not match the schema"): AppError {
  return new AppError("validation_failed", {
    detail,
    extras: { errors: error.issues.map((i) => ({ path: i.path.join(".") || "(body)", message: i.message })) },
  });
}

/** The media types read as JSON: `application/json` and `application/<anything>+json` (as Hono's validator). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Route middleware for a JSON body: wrong media type → 415
 * `unsupported_media_type`, unparsable → 400 `malformed_json`. The route's
 * validator then reads the parsed body (Hono caches it) and checks the schema.
 */
export function jsonBody(): MiddlewareHandler {
  return async function jsonBodyMiddleware(c, next) {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new AppError("unsupported_media_type", { detail: "Send Content-Type: application/json" });
    }
    let json: unknown;
    try {
      json = await c.req.json();
    } catch (error) {
      // The body limit refuses a chunked body while it is read: keep its 413.
      if (error instanceof AppError || error instanceof HTTPException) throw error;
      throw new AppError("malformed_json", { detail: "The body is not valid JSON" });
    }
    assertJsonDepth(json);
    const nul = nulPath(json);
    if (nul !== null) {
      throw new AppError("validation_failed", {
        detail: "Text in the body must not contain U+0000",
        extras: { errors: [{ path: nul, message: "Must not contain U+0000" }] },
      });
    }
    await next();
  };
}
