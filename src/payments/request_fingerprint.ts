/**
 * The request fingerprint of the Idempotency-Key draft: SHA-256 over the
 * method, the path and the canonical JSON of the body, so "the same request"
 * does not depend on key order or whitespace.
 *
 * @module
 */
import { sha256Hex } from "./sha256_hex.ts";

/** JSON with object keys sorted at every depth (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * Hex SHA-256 of `METHOD\npath\ncanonical body`.
 *
 * @example
 * ```ts
 * await requestFingerprint("POST", "/v1/payments", { amount: 5000, currency: "NGN" });
 * ```
 */
export function requestFingerprint(method: string, path: string, body: unknown): Promise<string> {
  return sha256Hex(`${method.toUpperCase()}\n${path}\n${canonicalJson(body)}`);
}
