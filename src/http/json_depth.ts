/**
 * How deeply a parsed JSON value nests. Bodies are small (a body limit
 * applies), but a few kilobytes of `[[[[…]]]]` nest thousands deep, and the
 * libraries downstream (zod, supabase-js's JSON.stringify, the SQL driver)
 * recurse: a depth no real request has is refused at the edge with a 400
 * instead of overflowing a stack later and surfacing as a 5xx.
 *
 * @module
 */
import { AppError } from "../errors.ts";

/** Deeper than any request or provider event this service accepts (Paystack events nest about 5 deep). */
export const MAX_JSON_DEPTH = 32;

/** The nesting depth of `value` (a scalar is 0), computed without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    const inner = depth + 1;
    if (inner > deepest) deepest = inner;
    if (inner > MAX_JSON_DEPTH) return inner;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, inner]);
  }
  return deepest;
}

/**
 * Refuses a value nested deeper than {@linkcode MAX_JSON_DEPTH}.
 *
 * @throws {AppError} `bad_request` (400)
 */
export function assertJsonDepth(value: unknown): void {
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new AppError("bad_request", { detail: `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels` });
  }
}

/**
 * The path (`a.b.0`) of the first string, or object key, holding U+0000, or
 * null. Postgres stores no NUL in `text` or `jsonb` (SQLSTATE 22021 / 22P05):
 * such a body is the client's mistake, refused before it reaches SQL.
 */
export function nulPath(value: unknown): string | null {
  const stack: Array<[unknown, string[]]> = [[value, []]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === "string") {
      if (node.includes("\0")) return path.join(".") || "(body)";
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    for (const [key, child] of Object.entries(node)) {
      if (key.includes("\0")) return [...path, key.replaceAll("\0", "\\u0000")].join(".");
      stack.push([child, [...path, key]]);
    }
  }
  return null;
}
