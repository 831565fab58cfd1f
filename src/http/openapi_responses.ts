/**
 * Building blocks of the OpenAPI route definitions: the problem+json
 * responses of a route, grouped by status from `ERROR_TABLE` (each lists the
 * `code`s a client can meet there), the headers every answer carries, and
 * the security schemes. One place, so the spec and `onError` cannot tell
 * different stories about an error.
 *
 * @module
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import { ERROR_TABLE, type ErrorCode } from "../errors.ts";
import { PROBLEM_TYPE_BASE } from "./problem.ts";

/** A response of a route definition (not a `$ref`). */
export type ResponseObject = Exclude<RouteConfig["responses"][string], { $ref: string }>;

/** An OpenAPI header object. */
export type HeaderObject = {
  description: string;
  required?: boolean;
  schema: { type: "string" | "integer"; example?: string | number };
};

/** `X-Request-Id`: on every response. */
export const REQUEST_ID_HEADER: Record<string, HeaderObject> = {
  "X-Request-Id": {
    description: "The request's id: the caller's `X-Request-Id` when sane (1–128 visible ASCII), else a new UUID. " +
      "Every log line of the request carries it",
    required: true,
    schema: { type: "string" },
  },
};

/** `Retry-After`, on answers that mean "try again later". */
export const RETRY_AFTER_HEADER: Record<string, HeaderObject> = {
  "Retry-After": { description: "Seconds to wait before retrying", required: true, schema: { type: "integer" } },
};

/** The rate-limit headers (IETF draft `RateLimit` fields), on every answer of a rate-limited route. */
export const RATE_LIMIT_HEADERS: Record<string, HeaderObject> = {
  "RateLimit-Limit": { description: "Requests allowed per window", schema: { type: "integer", example: 120 } },
  "RateLimit-Remaining": { description: "Requests left in the current window", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "Seconds until the window resets", schema: { type: "integer" } },
  "RateLimit-Policy": {
    description: "The policy: `<limit>;w=<window seconds>`",
    schema: { type: "string", example: "120;w=60" },
  },
};

/** `Idempotent-Replayed: true` on a replayed answer of `POST /v1/payments`. */
export const IDEMPOTENT_REPLAYED_HEADER: Record<string, HeaderObject> = {
  "Idempotent-Replayed": {
    description: "`true` when this is the stored answer of an earlier request with the same Idempotency-Key",
    schema: { type: "string", example: "true" },
  },
};

/** Codes whose answers carry `Retry-After`. */
const RETRY_AFTER_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "idempotency_key_in_use",
  "payment_locked",
  "rate_limited",
  "provider_unavailable",
]);

/** The security schemes of the API (`components.securitySchemes`). */
export const SECURITY_SCHEMES = {
  userToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A Supabase Auth access token of a signed-in user (`role` and `aud` authenticated, a UUID `sub`, " +
      "an `exp`). In development: `deno task token --user <uuid>`",
  },
  serviceRole: {
    type: "http",
    scheme: "bearer",
    description: "The project's service-role key (or a token whose `role` is service_role). In development: " +
      "`deno task token --service-role`",
  },
  paystackSignature: {
    type: "apiKey",
    in: "header",
    name: "x-paystack-signature",
    description: "Hex HMAC-SHA512 of the raw request body with the Paystack secret key, checked in constant time " +
      "before the body is parsed",
  },
  databaseWebhookSecret: {
    type: "apiKey",
    in: "header",
    name: "x-db-webhook-secret",
    description: "The shared secret DB_WEBHOOK_SECRET, set as a header on the Supabase Database Webhook; compared " +
      "in constant time before the body is read",
  },
} as const;

/** The base problem document (RFC 9457), as `components.schemas.Problem`. */
export const ProblemSchema = z.object({
  type: z.string().openapi({ format: "uri", example: `${PROBLEM_TYPE_BASE}payment_not_found` }),
  title: z.string().openapi({ example: "Payment not found" }),
  status: z.number().int().openapi({ example: 404 }),
  detail: z.string().openapi({ example: "No payment with reference pay-1" }),
  code: z.enum(Object.keys(ERROR_TABLE) as [ErrorCode, ...ErrorCode[]]).openapi({
    description: "Stable snake_case code: match on this, never on `title` or `detail`",
  }),
  request_id: z.string().optional().openapi({ description: "Same as the X-Request-Id header" }),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().openapi({
    description: "validation_failed only: every issue found, by field path",
  }),
}).catchall(z.unknown()).openapi("Problem", {
  description: "An error (RFC 9457). Every `code` the service uses, with its status:\n\n" +
    "| code | status | title |\n| --- | --- | --- |\n" +
    Object.entries(ERROR_TABLE).map(([code, [status, title]]) => `| \`${code}\` | ${status} | ${title} |`).join("\n") +
    "\n\nAny path answers 404 `not_found` when it does not exist and 405 `method_not_allowed` (with `Allow`) " +
    "for a method it does not serve.",
});

/** Options of {@linkcode problemResponses}. */
export interface ProblemResponsesOptions {
  /** Extra headers per code (e.g. Idempotent-Replayed on stored refusals). */
  headers?: Partial<Record<ErrorCode, Record<string, HeaderObject>>>;
}

/**
 * The problem+json responses of a route: one per status among `codes`, whose
 * schema narrows `code` to the codes of that status, and whose description
 * names them.
 *
 * @example
 * ```ts
 * responses: { 200: ok, ...problemResponses(["unauthorized", "invalid_token", "payment_not_found"]) }
 * ```
 */
export function problemResponses(
  codes: readonly ErrorCode[],
  { headers = {} }: ProblemResponsesOptions = {},
): Record<number, ResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_TABLE[code][0];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, ResponseObject> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const responseHeaders: Record<string, HeaderObject> = { ...REQUEST_ID_HEADER };
    if (group.some((code) => RETRY_AFTER_CODES.has(code))) {
      const always = group.every((code) => RETRY_AFTER_CODES.has(code));
      responseHeaders["Retry-After"] = {
        ...RETRY_AFTER_HEADER["Retry-After"]!,
        required: always,
        ...(always ? {} : {
          description: `Seconds to wait before retrying (${
            group.filter((code) => RETRY_AFTER_CODES.has(code)).map((code) => `\`${code}\``).join(", ")
          })`,
        }),
      };
    }
    for (const code of group) Object.assign(responseHeaders, headers[code] ?? {});
    out[status] = {
      description: group.map((code) => `\`${code}\`: ${ERROR_TABLE[code][1]}`).join("; "),
      headers: responseHeaders,
      content: {
        "application/problem+json": {
          schema: ProblemSchema.extend({
            status: z.literal(status),
            code: z.enum(group as [ErrorCode, ...ErrorCode[]]),
          }).openapi({ description: `A Problem with status ${status}` }),
        },
      },
    };
  }
  return out;
}

/** A JSON success response with `X-Request-Id` (and any other headers). */
export function jsonResponse(
  schema: z.ZodType,
  description: string,
  headers: Record<string, HeaderObject> = {},
): ResponseObject {
  return {
    description,
    headers: { ...REQUEST_ID_HEADER, ...headers },
    content: { "application/json": { schema } },
  };
}

/** Problems any route can answer: a failure on our side. */
export const COMMON_PROBLEMS: readonly ErrorCode[] = ["internal_error"];

/** Problems of a route that reads or writes the database. */
export const DATABASE_PROBLEMS: readonly ErrorCode[] = ["internal_error", "database_unavailable"];

/** Problems of a route behind `requireUser`. */
export const USER_AUTH_PROBLEMS: readonly ErrorCode[] = ["unauthorized", "invalid_token"];

/** Problems of a route behind `requireServiceRole`. */
export const SERVICE_AUTH_PROBLEMS: readonly ErrorCode[] = ["unauthorized", "invalid_token", "forbidden"];
