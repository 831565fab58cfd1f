/**
 * What must never reach a log line (STYLE §8): secrets, bearer tokens,
 * webhook signatures, e-mail addresses. The suites capture every line the
 * service writes and scan them all at the end.
 *
 * @module
 */

/** A JWT: three base64url parts, the first two JSON objects (`eyJ` = `{"`). */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/;
/** A hex HMAC-SHA512 (Paystack's `x-paystack-signature`). */
const SIGNATURE = /(?<![0-9a-f])[0-9a-f]{128}(?![0-9a-f])/i;
/** An e-mail address. */
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

/** One leak found. */
export interface Leak {
  kind: "secret" | "jwt" | "signature" | "email";
  /** The line, cut short around the leak. */
  excerpt: string;
}

/**
 * Scans log lines (parsed JSON objects or raw text) for leaks.
 *
 * @param lines What the service wrote.
 * @param secrets Values that must never appear (secret keys, shared secrets); empty strings are ignored.
 * @returns Every leak, at most 20.
 */
export function findLeaks(lines: Iterable<unknown>, secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  const named = secrets.filter((s) => s.length >= 8);
  for (const line of lines) {
    const text = typeof line === "string" ? line : JSON.stringify(line);
    const hit = (kind: Leak["kind"], at: number) =>
      leaks.push({ kind, excerpt: text.slice(Math.max(0, at - 60), at + 100) });
    for (const secret of named) {
      const at = text.indexOf(secret);
      if (at >= 0) hit("secret", at);
    }
    for (const [kind, pattern] of [["jwt", JWT], ["signature", SIGNATURE], ["email", EMAIL]] as const) {
      const match = pattern.exec(text);
      if (match) hit(kind, match.index);
    }
    if (leaks.length >= 20) break;
  }
  return leaks;
}
