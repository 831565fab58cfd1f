/**
 * Reading and validating JSON bodies: wrong media type → 415, unparsable →
 * 400 `malformed_json`, schema failure → 422 `validation_failed` with every
 * issue listed (path and message), never a 500 for the client's mistake.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "../errors.ts";

/** Turns zod issues into the `errors` list of a validation problem. */
export function validationError(error: z.ZodError, detail = "The request does not match the schema"): AppError {
  return new AppError("validation_failed", {
    detail,
    extras: { errors: error.issues.map((i) => ({ path: i.path.join(".") || "(body)", message: i.message })) },
  });
}

/**
 * Parses the request body as JSON and validates it.
 *
 * @throws {AppError} `unsupported_media_type`, `malformed_json` or `validation_failed`
 */
export async function readJsonBody<S extends z.ZodTypeAny>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError("unsupported_media_type", { detail: "Send Content-Type: application/json" });
  }
  let json: unknown;
  try {
    json = JSON.parse(await c.req.text());
  } catch {
    throw new AppError("malformed_json", { detail: "The body is not valid JSON" });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}
