/**
 * Time as a dependency: use cases and adapters take a clock instead of
 * calling `Date.now()`, so tests control it.
 *
 * @module
 */

/** A source of the current time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
