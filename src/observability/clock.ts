/**
 * Time as a dependency: use cases and adapters take a clock instead of
 * calling `Date.now()`, and code that waits takes timers instead of calling
 * `setTimeout`, so tests control both (a manual clock advanced by hand).
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

/**
 * Timers as a dependency: deadlines, pauses, timeouts and heartbeats.
 *
 * Code that waits takes `Timers` so that a test can replace the wall clock by
 * one it advances by hand: a wait, a timeout or a heartbeat then happens when
 * the test says so, never because the machine was slow or fast.
 */
export interface Timers {
  /** Monotonic milliseconds from an arbitrary origin: only differences are meaningful. */
  now(): number;
  /**
   * Calls `callback` once, `ms` milliseconds from now.
   *
   * @returns An id for {@linkcode Timers.clearTimeout}.
   */
  setTimeout(callback: () => void, ms: number): number;
  /** Cancels a pending callback; an unknown, fired or undefined id is ignored. */
  clearTimeout(id: number | undefined): void;
}

/** The real timers: `performance.now()` (monotonic, unaffected by wall-clock jumps) and the global timer functions. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  // Deno's setTimeout returns a number; the npm packages' Node typings make TypeScript pick Node's overload.
  setTimeout: (callback, ms) => setTimeout(callback, ms) as unknown as number,
  clearTimeout: (id) => clearTimeout(id),
};
