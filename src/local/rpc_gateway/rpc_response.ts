/**
 * The successful response of a call (`actionResponse (DbCallResult …)` in
 * PostgREST's `Response.hs`).
 *
 * @module
 */
import type { CallRow } from "./call_statement.ts";
import { applyGucHeaders, parseGucHeaders, parseGucStatus } from "./guc_response.ts";
import type { ResponseMedia } from "./media_type.ts";
import type { CountPreference } from "./prefer_header.ts";
import type { Routine } from "./schema_cache.ts";

/** What the response is built from. */
export interface RpcResponseInit {
  /** The call statement's row. */
  row: CallRow;
  /** The function called. */
  routine: Routine;
  /** The negotiated format. */
  media: ResponseMedia;
  /** HEAD: headers only. */
  head: boolean;
  /** `Prefer: count=…`, or null. */
  count: CountPreference | null;
  /** Schema to echo in `Content-Profile`, or null when it was not negotiated. */
  profile: string | null;
}

/** Statuses a Fetch `Response` refuses a body for. */
const _NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * Builds the response: 200 with the JSON body, or 204 without body nor
 * `Content-Type` for a void function; `Content-Range` always (its total only
 * with `Prefer: count=…`); then the function's `response.status` and
 * `response.headers` override.
 *
 * @param init the result and the request's choices
 * @returns the response
 * @throws {ApiError} 500 PGRST111/PGRST112 for malformed `response.*` settings
 */
export function rpcResponse({ row, routine, media, head, count, profile }: RpcResponseInit): Response {
  const headers = new Headers({
    "Content-Range": contentRange(row.page_total, count === null ? null : row.page_total),
  });
  if (count !== null) headers.set("Preference-Applied", `count=${count}`);
  if (!routine.returnsVoid) {
    headers.set("Content-Type", media.contentType);
    if (profile !== null) headers.set("Content-Profile", profile);
  }
  const status = parseGucStatus(row.response_status) ?? (routine.returnsVoid ? 204 : 200);
  applyGucHeaders(headers, parseGucHeaders(row.response_headers));
  const body = routine.returnsVoid || head || _NULL_BODY_STATUSES.has(status) ? null : row.body;
  return new Response(body, { status, headers });
}

/**
 * PostgREST's `contentRangeH` for an unpaged result: `0-(rows-1)/total`,
 * `*` for the range when nothing was returned (or the total is 0), and `*`
 * for the total when no count was asked for.
 *
 * @param rows rows returned
 * @param total the counted total, or null
 * @returns the header value, e.g. `0-2/3`, `*∕0`, `0-0/*`
 */
export function contentRange(rows: number, total: number | null): string {
  const upper = rows - 1;
  const range = total !== 0 && upper >= 0 ? `0-${upper}` : "*";
  return `${range}/${total ?? "*"}`;
}
