/**
 * Constant-time comparison of two secrets, so response timing does not tell
 * an attacker how many leading characters they guessed right.
 *
 * @module
 */

/**
 * Compares two strings in time that depends only on their lengths.
 *
 * @example
 * ```ts
 * timingSafeEqualText("abc", "abc"); // true
 * ```
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  // Always walk the longer input; a length difference still fails at the end.
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
