/**
 * The errors the RPC gateway answers with, in PostgREST's shape: a JSON body
 * `{code, message, details, hint}` (null where absent) with
 * `Content-Type: application/json; charset=utf-8` and PostgREST's
 * `Proxy-Status` header. Every user-facing PGRST message lives in this file,
 * worded exactly as PostgREST v14 words it (`src/PostgREST/Error.hs`).
 *
 * @module
 */

/** Content type of every error body (PostgREST's `MTApplicationJSON`). */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** The fields of an error body. */
export interface ApiErrorInit {
  /** HTTP status. */
  status: number;
  /** `PGRSTnnn` or a SQLSTATE. */
  code: string;
  /** Human-readable message. */
  message: string;
  /** Extra details, or null. */
  details?: string | null;
  /** A hint, or null. */
  hint?: string | null;
  /** Headers sent with the error (e.g. `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

/** A request the gateway refuses, carried up to the one place that renders it. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** `PGRSTnnn` or a SQLSTATE. */
  readonly code: string;
  /** Extra details, or null. */
  readonly details: string | null;
  /** A hint, or null. */
  readonly hint: string | null;
  /** Headers sent with the error. */
  readonly headers: Record<string, string>;

  constructor({ status, code, message, details = null, hint = null, headers = {} }: ApiErrorInit) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
    this.headers = headers;
  }
}

/**
 * Renders an {@linkcode ApiError} the way PostgREST does.
 *
 * @param error the error to render
 * @param head true for a HEAD request: same status and headers, no body
 * @returns the HTTP response
 */
export function errorResponse(error: ApiError, head = false): Response {
  const body = JSON.stringify({ code: error.code, details: error.details, hint: error.hint, message: error.message });
  const headers = new Headers(error.headers);
  headers.set("Content-Type", JSON_CONTENT_TYPE);
  headers.set("Proxy-Status", `PostgREST; error=${error.code}`);
  return new Response(head ? null : body, { status: error.status, headers });
}

// -----------------------------------------------------------------------------
// PGRST0xx: connection and schema cache
// -----------------------------------------------------------------------------

/** PGRST000: the database cannot be reached. */
export function connectionError(details: string | null): ApiError {
  return new ApiError({
    status: 503,
    code: "PGRST000",
    message: "Database connection error. Retrying the connection.",
    details,
  });
}

/** PGRSTX00: an unexpected failure inside the gateway. */
export function internalError(details: string): ApiError {
  return new ApiError({ status: 500, code: "PGRSTX00", message: "Internal error", details });
}

/** PGRST002: the schema cache could not be loaded. */
export function schemaCacheUnavailable(): ApiError {
  return new ApiError({
    status: 503,
    code: "PGRST002",
    message: "Could not query the database for the schema cache. Retrying.",
  });
}

// -----------------------------------------------------------------------------
// PGRST1xx: the request itself
// -----------------------------------------------------------------------------

/** PGRST101: a verb other than GET, HEAD or POST on `/rpc/:fn`. */
export function invalidRpcMethod(method: string): ApiError {
  return new ApiError({ status: 405, code: "PGRST101", message: `Cannot use the ${method} method on RPC` });
}

/** PGRST102: a body that is not usable JSON (or not JSON at all). */
export function invalidBody(message: string): ApiError {
  return new ApiError({ status: 400, code: "PGRST102", message });
}

/** PGRST106: `Accept-Profile`/`Content-Profile` names a schema that is not exposed. */
export function unacceptableSchema(schema: string, exposed: readonly string[]): ApiError {
  return new ApiError({
    status: 406,
    code: "PGRST106",
    message: `Invalid schema: ${schema}`,
    hint: `Only the following schemas are exposed: ${exposed.join(", ")}`,
  });
}

/** PGRST107: nothing in `Accept` can be produced. */
export function mediaTypeError(accepted: readonly string[]): ApiError {
  return new ApiError({
    status: 406,
    code: "PGRST107",
    message: `None of these media types are available: ${accepted.join(", ")}`,
  });
}

/** PGRST111: `response.headers` set by the function is malformed. */
export function gucHeadersError(): ApiError {
  return new ApiError({
    status: 500,
    code: "PGRST111",
    message: "response.headers guc must be a JSON array composed of objects with a single key and a string value",
  });
}

/** PGRST112: `response.status` set by the function is not a status code. */
export function gucStatusError(): ApiError {
  return new ApiError({ status: 500, code: "PGRST112", message: "response.status guc must be a valid status code" });
}

/** PGRST116: `Accept: application/vnd.pgrst.object+json` but not exactly one row. */
export function singularityError(rows: number): ApiError {
  return new ApiError({
    status: 406,
    code: "PGRST116",
    message: "Cannot coerce the result to a single JSON object",
    details: `The result contains ${rows} rows`,
  });
}

/** PGRST121: `RAISE SQLSTATE 'PGRST'` with an unparsable MESSAGE or DETAIL. */
export function pgrstParseError(details: string, hint: string): ApiError {
  return new ApiError({
    status: 500,
    code: "PGRST121",
    message: `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
    details,
    hint,
  });
}

/** PGRST125: any path other than `/rest/v1/rpc/:fn`. */
export function invalidResourcePath(): ApiError {
  return new ApiError({
    status: 404,
    code: "PGRST125",
    message: "Invalid path specified in request URL",
    // PostgREST sends null here; the local gateway says why, because it only
    // implements the RPC part of PostgREST.
    details: "The local RPC gateway only serves /rest/v1/rpc/<function>",
  });
}

/** PGRST127: a PostgREST feature the local gateway does not implement. */
export function notImplemented(details: string): ApiError {
  return new ApiError({ status: 400, code: "PGRST127", message: "Feature not implemented", details });
}

// -----------------------------------------------------------------------------
// PGRST2xx: schema cache lookups
// -----------------------------------------------------------------------------

/** What PGRST202 needs to describe the failed lookup. */
export interface NoRpcInit {
  /** Schema searched. */
  schema: string;
  /** Function name requested. */
  name: string;
  /** Argument keys sent, sorted. */
  keys: readonly string[];
  /** POST with a JSON body (the single-unnamed-json fallback was tried too). */
  jsonPost: boolean;
  /** A "Perhaps you meant…" suggestion, or null. */
  hint: string | null;
}

/** PGRST202: no function matches the name and argument keys. */
export function noRpc({ schema, name, keys, jsonPost, hint }: NoRpcInit): ApiError {
  const fn = `${schema}.${name}`;
  const list = keys.join(", ");
  const inMessage = keys.length === 0 ? " without parameters" : `(${list})`;
  const inDetails = keys.length === 0 ? " without parameters" : ` with parameter${keys.length > 1 ? "s" : ""} ${list}`;
  return new ApiError({
    status: 404,
    code: "PGRST202",
    message: `Could not find the function ${fn}${inMessage} in the schema cache`,
    details: `Searched for the function ${fn}${inDetails}${
      jsonPost ? " or with a single unnamed json/jsonb parameter" : ""
    }, but no matches were found in the schema cache.`,
    hint,
  });
}

/** PGRST203: several overloads match; `signatures` are `schema.fn(a => type, …)`. */
export function ambiguousRpc(signatures: readonly string[]): ApiError {
  return new ApiError({
    status: 300,
    code: "PGRST203",
    message: `Could not choose the best candidate function between: ${signatures.join(", ")}`,
    hint: "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
  });
}

// -----------------------------------------------------------------------------
// PGRST3xx: JWT
// -----------------------------------------------------------------------------

function _invalidToken(code: "PGRST301" | "PGRST303", message: string, details: string | null): ApiError {
  return new ApiError({
    status: 401,
    code,
    message,
    details,
    // Haskell's `show` of the message: wrapped in double quotes.
    headers: { "WWW-Authenticate": `Bearer error="invalid_token", error_description=${JSON.stringify(message)}` },
  });
}

/** PGRST301: the token cannot be decoded or its signature does not verify. */
export function jwtDecodeError(message: string, details: string | null = null): ApiError {
  return _invalidToken("PGRST301", message, details);
}

/** PGRST303: a claim check failed (expired, not yet valid, …). */
export function jwtClaimsError(message: string): ApiError {
  return _invalidToken("PGRST303", message, null);
}
