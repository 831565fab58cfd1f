/**
 * The transaction-local settings PostgREST applies before calling the
 * function (`txVarQuery` in `Query/PreQuery.hs`), in its order:
 * `search_path`, `role`, `request.jwt.claims`, `request.method`,
 * `request.path`, `request.headers`, `request.cookies`.
 *
 * @module
 */
import type { SqlStatement } from "./call_statement.ts";

/** What a request contributes to the settings. */
export interface RequestSettingsInit {
  /** The schema called, first on the search_path. */
  schema: string;
  /** Schemas appended to the search_path (PostgREST's `db-extra-search-path`). */
  extraSearchPath: readonly string[];
  /** Database role to impersonate. */
  role: string;
  /** JWT claims, including `role`. */
  claims: Record<string, unknown>;
  /** HTTP method. */
  method: string;
  /** Path as PostgREST sees it behind Supabase's API gateway, e.g. `/rpc/fn`. */
  path: string;
  /** The request headers. */
  headers: Headers;
}

/**
 * One `select set_config(…, true), …` statement. `set_config('role', $2,
 * true)` is `SET LOCAL ROLE` with the role bound as a parameter, so a role
 * claim cannot inject SQL and needs no identifier quoting; the setting ends
 * with the transaction, so a pooled connection never keeps it.
 *
 * @param init the request's parts
 * @returns the statement
 */
export function requestSettingsStatement(init: RequestSettingsInit): SqlStatement {
  const settings: [string, string][] = [
    ["search_path", [init.schema, ...init.extraSearchPath].map(_quoteIdent).join(", ")],
    ["role", init.role],
    ["request.jwt.claims", JSON.stringify(init.claims)],
    ["request.method", init.method],
    ["request.path", init.path],
    ["request.headers", JSON.stringify(_headersObject(init.headers))],
    ["request.cookies", JSON.stringify(_cookies(init.headers.get("cookie")))],
  ];
  // Postgres evaluates a target list left to right, which keeps the order.
  const text = "select " + settings.map(([name], i) => `set_config('${name}', $${i + 1}, true)`).join(", ");
  return { text, params: settings.map(([, value]) => value) };
}

/** Header names lowercased (Fetch already does), the cookie header left out. */
function _headersObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (name !== "cookie") out[name.toLowerCase()] = value;
  return out;
}

/** `a=1; b=2` → `{"a":"1","b":"2"}`. */
function _cookies(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function _quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
