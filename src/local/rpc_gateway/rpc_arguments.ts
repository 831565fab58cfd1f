/**
 * Function arguments as a request carries them: a JSON body for POST
 * (`ApiRequest/Payload.hs`), query parameters for GET and HEAD
 * (`ApiRequest/QueryParams.hs`).
 *
 * @module
 */
import { invalidBody, notImplemented } from "./api_error.ts";

/** POST: the JSON text, passed to SQL untouched so numbers stay exact. */
export interface BodyArguments {
  kind: "body";
  /** JSON text for `json_to_recordset` (or for a single unnamed json parameter). */
  json: string;
  /** Top-level keys: the argument names. */
  keys: Set<string>;
}

/** GET/HEAD: text values, cast to each parameter's type in SQL. */
export interface QueryArguments {
  kind: "query";
  /** Values by name, in order of appearance (repeated names feed a VARIADIC parameter). */
  values: Map<string, string[]>;
  /** The argument names. */
  keys: Set<string>;
}

/** Arguments of one call. */
export type RpcArguments = BodyArguments | QueryArguments;

/**
 * Parses a POST body. An empty body is `{}`. An object gives its keys; an
 * array takes the keys of its objects (which must all have the same keys);
 * any other JSON value counts as `[]` with no keys, as in PostgREST.
 *
 * @param body the raw body
 * @param contentType the `Content-Type` header (absent means JSON)
 * @returns the arguments
 * @throws {ApiError} 400 PGRST102 for invalid JSON, mixed array items or a
 *   non-JSON content type
 */
export function parseBodyArguments(body: string, contentType: string | null): BodyArguments {
  const mime = (contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (mime !== "application/json") {
    // PostgREST also takes form-urlencoded, text/plain, text/xml, octet-stream
    // and CSV bodies; supabase-js only ever sends JSON.
    throw invalidBody(`Content-Type not acceptable: ${mime}`);
  }
  if (body === "") return { kind: "body", json: "{}", keys: new Set() };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw invalidBody("Empty or invalid json");
  }
  if (_isObject(value)) return { kind: "body", json: body, keys: new Set(Object.keys(value)) };
  if (!Array.isArray(value) || value.length === 0) return { kind: "body", json: "[]", keys: new Set() };
  const [first] = value;
  const keys = _isObject(first) ? Object.keys(first).sort().join("\u0000") : null;
  const uniform = keys !== null && value.every((v) => _isObject(v) && Object.keys(v).sort().join("\u0000") === keys);
  if (!uniform) throw invalidBody("All object keys must match");
  return { kind: "body", json: body, keys: new Set(Object.keys(first as object)) };
}

/** Query parameters that are not function arguments in PostgREST. */
const _RESERVED = new Set(["select", "columns", "on_conflict"]);
const _RESERVED_LAST_SEGMENT = new Set(["order", "limit", "offset", "and", "or"]);
const _OPERATORS = new Set([
  "eq",
  "gte",
  "gt",
  "lte",
  "lt",
  "neq",
  "like",
  "ilike",
  "cs",
  "cd",
  "ov",
  "sl",
  "sr",
  "nxr",
  "nxl",
  "adj",
  "match",
  "imatch",
  "fts",
  "plfts",
  "phfts",
  "wfts",
]); // deno-fmt-ignore

/**
 * Parses the query string of a request. Parameters without `=` are ignored
 * and `+` is a space, as in PostgREST. For GET/HEAD every other parameter is
 * an argument, unless PostgREST would read it as `select`, ordering,
 * paging, logic or a filter on the result, which this gateway does not
 * implement; `select=*` is accepted since it changes nothing.
 *
 * @param search the URL's search string (with or without `?`)
 * @param collectArguments true for GET/HEAD; for POST arguments come from the body
 * @returns the arguments (empty for POST)
 * @throws {ApiError} 400 PGRST127 for select/order/limit/offset/filters
 */
export function parseQueryArguments(search: string, collectArguments: boolean): QueryArguments {
  const values = new Map<string, string[]>();
  for (const [key, value] of _queryPairs(search)) {
    if (key === "select" && value.trim() === "*") continue;
    const unsupported = _RESERVED.has(key) || _RESERVED_LAST_SEGMENT.has(key.split(".").at(-1)!) ||
      key.includes(".") || _isFilter(value);
    if (unsupported) {
      throw notImplemented(
        `The local RPC gateway does not implement '${key}' on RPC results (select, order, limit, offset, ` +
          "logic and filters)",
      );
    }
    if (collectArguments) values.set(key, [...(values.get(key) ?? []), value]);
  }
  return { kind: "query", values, keys: new Set(values.keys()) };
}

function _queryPairs(search: string): [string, string][] {
  const text = search.startsWith("?") ? search.slice(1) : search;
  const decode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
  return text.split("&").filter((p) => p.includes("=")).map((p) => {
    const eq = p.indexOf("=");
    return [decode(p.slice(0, eq)), decode(p.slice(eq + 1))];
  });
}

/**
 * PostgREST's `hasOperator`/`hasFtsOperator`: `eq.1`, `not.eq.1`, `is.null`,
 * `in.(…)`, `fts(english).x`. Like PostgREST, a bare operator word (`eq`,
 * `is`) already counts as a filter.
 */
function _isFilter(value: string): boolean {
  const [head = "", ...rest] = value.split(".");
  if (head === "not") return rest.length > 0;
  if (head === "is" || head === "in" || _OPERATORS.has(head)) return true;
  const paren = value.indexOf("(");
  return paren >= 0 && _OPERATORS.has(value.slice(0, paren));
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
