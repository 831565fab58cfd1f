/**
 * The "Perhaps you meant…" suggestions of PGRST202. PostgREST uses the
 * `fuzzyset` package, whose final score (with its default Levenshtein
 * rescoring) is `1 - distance / max(length)` on lowercased strings; this is
 * that score without fuzzyset's n-gram pre-filter, so a suggestion may
 * rarely differ on borderline candidates. Suggestions are informational
 * only: callers match on `code`, never on `hint`.
 *
 * @module
 */

/**
 * The candidate most similar to `target`, if its score reaches `minScore`.
 *
 * @param candidates strings to choose from
 * @param target the string sent by the client
 * @param minScore the lowest acceptable similarity in [0, 1]
 * @returns the best candidate, or null
 */
export function closestMatch(candidates: Iterable<string>, target: string, minScore: number): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const candidate of candidates) {
    const score = similarity(candidate, target);
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return bestScore >= minScore ? best : null;
}

/** `1 - levenshtein(a, b) / max(|a|, |b|)`, case-insensitive; 1 for two empty strings. */
export function similarity(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const longest = Math.max(x.length, y.length);
  return longest === 0 ? 1 : 1 - _levenshtein(x, y) / longest;
}

function _levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
