/**
 * `response.status` / `response.headers`, which a function sets with
 * `set_config(…, true)` to shape its HTTP response (`overrideStatusHeaders`
 * in PostgREST's `Response.hs`).
 *
 * @module
 */
import { gucHeadersError, gucStatusError } from "./api_error.ts";

/**
 * Reads `response.status`: leading decimal digits, as Haskell's `decimal`
 * reads them.
 *
 * @param raw the setting, or null when unset
 * @returns the status, or null when unset
 * @throws {ApiError} 500 PGRST112 when it is not a number, or is outside
 *   200–599 (the statuses a Fetch `Response` can carry)
 */
export function parseGucStatus(raw: string | null): number | null {
  if (raw === null) return null;
  const digits = /^\d+/.exec(raw);
  const status = digits ? Number(digits[0]) : NaN;
  if (!(status >= 200 && status <= 599)) throw gucStatusError();
  return status;
}

/**
 * Reads `response.headers`: a JSON array of single-key objects with string
 * values, e.g. `[{"Location": "/x"}, {"X-Id": "1"}]`.
 *
 * @param raw the setting, or null when unset
 * @returns the headers in order
 * @throws {ApiError} 500 PGRST111 when malformed
 */
export function parseGucHeaders(raw: string | null): [string, string][] {
  if (raw === null) return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw gucHeadersError();
  }
  if (!Array.isArray(value)) throw gucHeadersError();
  return value.map((item): [string, string] => {
    const entries = item !== null && typeof item === "object" && !Array.isArray(item) ? Object.entries(item) : [];
    const [entry] = entries;
    if (entries.length !== 1 || typeof entry![1] !== "string") throw gucHeadersError();
    return [entry![0], entry![1]];
  });
}

/**
 * Applies the overrides: the function's status replaces the gateway's, and
 * its headers replace gateway headers of the same name.
 *
 * @param headers the gateway's headers (modified in place)
 * @param overrides headers from `response.headers`
 */
export function applyGucHeaders(headers: Headers, overrides: readonly [string, string][]): void {
  const names = new Set(overrides.map(([name]) => name.toLowerCase()));
  for (const name of names) headers.delete(name);
  for (const [name, value] of overrides) headers.append(name, value);
}
