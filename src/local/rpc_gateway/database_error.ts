/**
 * Turns a database error into the response PostgREST gives for it: the
 * SQLSTATE, message, DETAIL and HINT in the body, the status from
 * {@linkcode statusForSqlState}, and PostgREST's two special cases:
 * `WWW-Authenticate: Bearer` on a 401, and `RAISE SQLSTATE 'PGRST'` whose
 * MESSAGE/DETAIL are JSON giving full control of the response.
 *
 * @module
 */
import type { SqlError } from "../../db/sql_client.ts";
import { ApiError, pgrstParseError } from "./api_error.ts";
import { statusForSqlState } from "./sqlstate_status.ts";

/**
 * Maps a {@linkcode SqlError} raised while serving a request.
 *
 * @param error the database error
 * @param authenticated whether the request ran as a non-anonymous role
 * @returns the error to render
 */
export function apiErrorFromSqlError(error: SqlError, authenticated: boolean): ApiError {
  if (error.code === "PGRST") return _raisePgrst(error);
  const status = statusForSqlState(error.code, error.message, authenticated);
  return new ApiError({
    status,
    code: error.code,
    message: error.message,
    details: error.detail,
    hint: error.hint,
    headers: status === 401 ? { "WWW-Authenticate": "Bearer" } : {},
  });
}

const _MESSAGE_HINT =
  "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.";
const _DETAIL_HINT =
  "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.";

/**
 * `RAISE SQLSTATE 'PGRST' USING message = '{"code":…,"message":…}',
 * detail = '{"status":…,"headers":{…}}'`.
 */
function _raisePgrst(error: SqlError): ApiError {
  const message = _parseObject(error.message);
  if (
    !message || typeof message.code !== "string" || typeof message.message !== "string" ||
    !_optionalString(message.details) || !_optionalString(message.hint)
  ) {
    return pgrstParseError(`Invalid JSON value for MESSAGE: '${error.message}'`, _MESSAGE_HINT);
  }
  if (error.detail === null) return pgrstParseError("DETAIL is missing in the RAISE statement", _DETAIL_HINT);
  const detail = _parseObject(error.detail);
  const headers = detail?.headers;
  if (!detail || !Number.isInteger(detail.status) || !_optionalString(detail.status_text) || !_stringMap(headers)) {
    return pgrstParseError(`Invalid JSON value for DETAIL: '${error.detail}'`, _DETAIL_HINT);
  }
  const status = detail.status as number;
  return new ApiError({
    // A Fetch Response cannot carry a status outside 200–599.
    status: status >= 200 && status <= 599 ? status : 500,
    code: message.code,
    message: message.message,
    details: (message.details as string | undefined) ?? null,
    hint: (message.hint as string | undefined) ?? null,
    headers,
  });
}

function _parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

function _optionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === "string";
}

function _stringMap(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string");
}
