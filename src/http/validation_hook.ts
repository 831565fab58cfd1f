/**
 * What a failed request validation answers, for every route defined with
 * `createRoute` (the OpenAPIHono `defaultHook`): 422 `validation_failed`
 * listing every issue by path, as `readJsonBody` does. A route may map a
 * target to another error (an unknown path parameter is a 404, not a 422).
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./app_env.ts";
import { AppError } from "../errors.ts";
import { validationError } from "./json_body.ts";

/** The request parts a route validates. */
export type ValidationTarget = "json" | "query" | "param" | "header" | "cookie" | "form";

/** The result the validator hands the hook. */
export type ValidationResult =
  | { success: true; data: unknown; target: ValidationTarget }
  | { success: false; error: z.ZodError; target: ValidationTarget };

/** Turns a failed validation of one target into the error to answer. */
export type TargetErrors = Partial<Record<ValidationTarget, (error: z.ZodError, c: Context<AppEnv>) => AppError>>;

/**
 * Builds a hook; `targets` overrides the error per target.
 *
 * @example
 * ```ts
 * app.openapi(route, handler, validationHook({ param: () => new AppError("payment_not_found") }));
 * ```
 */
export function validationHook(targets: TargetErrors = {}) {
  return (result: ValidationResult, c: Context<AppEnv>): undefined => {
    if (result.success) return undefined;
    const custom = targets[result.target];
    if (custom) throw custom(result.error, c);
    if (result.target === "json") throw validationError(result.error);
    // Query and header messages are written for people ("limit must be…"): the detail lists them.
    throw validationError(result.error, result.error.issues.map((i) => i.message).join("; "));
  };
}
