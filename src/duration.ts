/**
 * Durations as operators type them (`48h`, `30m`, `2d`, `90s`): the
 * `--since` of `deno task reconcile --provider` and the `since` query of
 * `POST /v1/jobs/reconcile?scope=provider`.
 *
 * @module
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The longest duration accepted: a year, far beyond any provider's history we would page through at once. */
export const MAX_DURATION_MS = 366 * UNIT_MS.d;

/**
 * Parses `<positive integer><s|m|h|d>` into milliseconds.
 *
 * @param text e.g. `"48h"`
 * @returns the duration in milliseconds
 * @throws {RangeError} when `text` is not such a duration, is zero, or is longer than {@linkcode MAX_DURATION_MS}
 *
 * @example
 * ```ts
 * parseDuration("48h"); // 172_800_000
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^([0-9]{1,6})([smhd])$/.exec(text.trim());
  if (!match) throw new RangeError(`Cannot read duration ${JSON.stringify(text)}: use e.g. 90s, 30m, 48h or 2d`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms <= 0 || ms > MAX_DURATION_MS) {
    throw new RangeError(`Cannot read duration ${JSON.stringify(text)}: it must be above 0 and at most 366d`);
  }
  return ms;
}
