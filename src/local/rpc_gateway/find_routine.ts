/**
 * Picks the function a request calls, by name and argument keys, with
 * PostgREST's rules (`findProc` in `Plan.hs`).
 *
 * @module
 */
import { ambiguousRpc, noRpc } from "./api_error.ts";
import { closestMatch } from "./fuzzy_match.ts";
import { type Routine, routineKey, type SchemaCache } from "./schema_cache.ts";

/** What the request asks for. */
export interface RoutineLookup {
  /** Schema chosen by the profile headers. */
  schema: string;
  /** Function name from the path. */
  name: string;
  /** Argument names sent (POST body keys or GET query parameters). */
  keys: ReadonlySet<string>;
  /** POST with a JSON body: a single unnamed json/jsonb parameter may take it whole. */
  jsonPost: boolean;
}

/**
 * Finds the one function a request calls.
 *
 * A function matches when every required parameter is sent and every key
 * sent is a parameter (so an unknown key is a mismatch). Only when no
 * function matches that way does a POST fall back to a function with a
 * single unnamed json/jsonb parameter.
 *
 * @param cache the schema cache
 * @param lookup schema, name and argument keys
 * @returns the function
 * @throws {ApiError} 404 PGRST202 when nothing matches, 300 PGRST203 when
 *   several overloads do
 */
export function findRoutine(cache: SchemaCache, lookup: RoutineLookup): Routine {
  const overloads = cache.routines.get(routineKey(lookup.schema, lookup.name)) ?? [];
  const matching = overloads.filter((r) => _matchesKeys(r, lookup.keys));
  const fallback = matching.length === 0 ? overloads.filter((r) => lookup.jsonPost && _takesWholeBody(r)) : [];
  const found = matching.length > 0 ? matching : fallback;
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw ambiguousRpc(found.map(signature));
  const keys = [...lookup.keys].sort();
  throw noRpc({
    schema: lookup.schema,
    name: lookup.name,
    keys,
    jsonPost: lookup.jsonPost,
    hint: _hint(cache, lookup, keys, overloads),
  });
}

/** `schema.fn(a => integer, b => text)`, as PGRST203 lists candidates. */
export function signature(routine: Routine): string {
  return `${routine.schema}.${routine.name}(${routine.params.map((p) => `${p.name} => ${p.type}`).join(", ")})`;
}

function _matchesKeys(routine: Routine, keys: ReadonlySet<string>): boolean {
  if (routine.params.length === 0) return keys.size === 0;
  const names = new Set(routine.params.map((p) => p.name));
  const required = routine.params.filter((p) => p.required);
  return [...keys].every((k) => names.has(k)) && required.every((p) => keys.has(p.name));
}

function _takesWholeBody(routine: Routine): boolean {
  const [only, ...rest] = routine.params;
  return only !== undefined && rest.length === 0 && only.name === "" && (only.type === "json" || only.type === "jsonb");
}

/**
 * PostgREST's suggestion: a similarly named function in the schema when the
 * name is unknown (score ≥ 0.75), else the closest parameter list among the
 * overloads (score ≥ 0.33).
 */
function _hint(cache: SchemaCache, lookup: RoutineLookup, keys: string[], overloads: readonly Routine[]) {
  const prefix = `Perhaps you meant to call the function ${lookup.schema}.`;
  if (overloads.length === 0) {
    const names = [...cache.routines.values()].flat().filter((r) => r.schema === lookup.schema).map((r) => r.name);
    const name = closestMatch(new Set(names), lookup.name, 0.75);
    return name === null ? null : prefix + name;
  }
  const list = (names: string[]) => `(${[...names].sort().join(", ")})`;
  const params = closestMatch(overloads.map((r) => list(r.params.map((p) => p.name))), list(keys), 0.33);
  return params === null ? null : prefix + lookup.name + params;
}
