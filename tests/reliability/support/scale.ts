/**
 * Sizes and seeds of the reliability suites.
 *
 * - `RELIABILITY_SCALE` multiplies every size (default 1, the CI size;
 *   `deno task soak` runs 10×). Sizes never drop below their CI floor / 10.
 * - Every randomized suite draws from a seeded generator and prints its seed
 *   first; `<NAME>_SEED=<n>` replays that run exactly (same choices, same
 *   order of the choices the test makes; the service's own timing is not
 *   under the seed, so a replay of a concurrency storm repeats its inputs,
 *   not every thread interleaving — the interleaving suite is the one that
 *   replays schedules bit for bit).
 *
 * @module
 */
import { seededRandom } from "../../support/seeded_random.ts";

/** The multiplier of every size (RELIABILITY_SCALE, default 1). */
export function reliabilityScale(): number {
  const text = Deno.env.get("RELIABILITY_SCALE");
  if (text === undefined || text === "") return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 100) {
    throw new RangeError(`RELIABILITY_SCALE must be a number in (0, 100], got ${text}`);
  }
  return scale;
}

/** `ciSize` scaled by {@linkcode reliabilityScale}, at least 1. */
export function sized(ciSize: number): number {
  return Math.max(1, Math.round(ciSize * reliabilityScale()));
}

/**
 * The seed of suite `name`: `<NAME>_SEED` when set, else a fresh one. Printed
 * with the way to replay it, before anything random happens.
 */
export function suiteSeed(name: string): number {
  const variable = `${name.toUpperCase()}_SEED`;
  const given = Deno.env.get(variable);
  const seed = given !== undefined && given !== "" ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${variable} must be an integer, got ${given}`);
  console.log(`${name}: seed ${seed} (replay: ${variable}=${seed}; RELIABILITY_SCALE=${reliabilityScale()})`);
  return seed;
}

/** Choices drawn from one seeded generator. */
export interface Dice {
  /** A number in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One of `items`. */
  pick<T>(items: readonly T[]): T;
  /** `items` shuffled in place (Fisher–Yates), returned. */
  shuffle<T>(items: T[]): T[];
  /** A key of `weights`, drawn with probability proportional to its weight. */
  weighted<K extends string>(weights: Record<K, number>): K;
}

/** Dice over {@linkcode seededRandom}. */
export function dice(seed: number): Dice {
  const next = seededRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
    weighted(weights) {
      const entries = Object.entries(weights) as Array<[keyof typeof weights, number]>;
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      let roll = next() * total;
      for (const [key, weight] of entries) {
        roll -= weight;
        if (roll < 0) return key;
      }
      return entries.at(-1)![0];
    },
  };
}

/** Runs `fn` over `items` with at most `concurrency` at once; resolves when all finished. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * One line the suites print with their figures, prefixed `RELIABILITY ` so
 * `docs/reliability.md`'s numbers can be collected from a run's output.
 */
export function reportFigures(suite: string, figures: Record<string, unknown>): void {
  console.log(`RELIABILITY ${JSON.stringify({ suite, scale: reliabilityScale(), ...figures })}`);
}
