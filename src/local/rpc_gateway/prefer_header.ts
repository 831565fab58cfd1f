/**
 * The `Prefer` preferences that matter for RPC. `return=` is ignored for
 * RPC (as in PostgREST); so are preferences this gateway does not
 * implement (`tx=`, `handling=`, `timezone=`, `max-affected=`).
 *
 * @module
 */

/** `Prefer: count=…`. */
export type CountPreference = "exact" | "planned" | "estimated";

/** Parsed preferences. */
export interface Preferences {
  /** The requested count, or null. */
  count: CountPreference | null;
}

/**
 * Reads every `Prefer` header (comma-separated lists and repeated headers
 * alike; the first `count=` wins).
 *
 * @param headers the request headers
 * @returns the preferences
 */
export function parsePreferences(headers: Headers): Preferences {
  const all = (headers.get("prefer") ?? "").split(",").map((p) => p.trim());
  const count = all.find((p) => p === "count=exact" || p === "count=planned" || p === "count=estimated");
  return { count: count === undefined ? null : count.slice("count=".length) as CountPreference };
}
