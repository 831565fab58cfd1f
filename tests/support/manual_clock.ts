/**
 * A clock and timers that move only when the test says so, for the lock
 * layer's waits, timeouts, heartbeats and in-memory leases.
 *
 * Timers fire in order of due time (ties in the order they were set). After
 * each one fires, the clock lets promise chains run to completion (one real
 * macrotask turn) before it looks for the next, so a callback that schedules
 * the next timer through `await`s (a heartbeat, a backoff loop) has done so by
 * then. Work that waits on real I/O (HTTP to the Upstash proxy) is not
 * finished by that turn: drive it with {@linkcode ManualClock.run}, which
 * waits for events (a timer being set, the awaited promise settling) rather
 * than for time.
 *
 * @module
 */
import type { Clock, Timers } from "../../src/observability/clock.ts";

interface _Timer {
  due: number;
  seq: number;
  callback: () => void;
}

/** The real setTimeout, captured before anything could replace it: used only to yield one event-loop turn. */
const _realSetTimeout = globalThis.setTimeout;

/** Lets every pending promise reaction run (microtasks drain before the next macrotask). */
function _turn(): Promise<void> {
  return new Promise((resolve) => _realSetTimeout(resolve, 0));
}

/**
 * Settles `promise`, or fails after `ms` of real time: a safety net for a
 * wait on an event that a regression could stop from ever happening (real
 * I/O, a heartbeat that never beats), so the test fails instead of hanging.
 * No assertion depends on it: in a passing run the event comes in
 * milliseconds.
 *
 * @param promise What to wait for.
 * @param ms The real-time bound.
 * @returns What `promise` resolved to.
 * @throws What `promise` rejected with, or an Error when `ms` ran out first.
 */
export async function within<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = _realSetTimeout(() => reject(new Error(`not settled within ${ms} ms of real time`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A manual {@linkcode Clock} and {@linkcode Timers}. */
export class ManualClock implements Clock, Timers {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, _Timer>();
  #onSet: Array<() => void> = [];

  /** @param start The initial reading of `now()`. */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** The current manual time, in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + ms` (negative or NaN delays count as 0, like the real one). */
  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.#seq;
    this.#timers.set(id, { due: this.#now + (ms > 0 ? ms : 0), seq: id, callback });
    const waiting = this.#onSet;
    this.#onSet = [];
    for (const wake of waiting) wake();
    return id;
  }

  /** Cancels a pending timer. */
  clearTimeout(id: number | undefined): void {
    if (id !== undefined) this.#timers.delete(id);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Resolves as soon as a timer is pending (at once if one already is). */
  whenPending(): Promise<void> {
    if (this.#timers.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.#onSet.push(resolve));
  }

  /** A promise resolved by a timer of this clock, `ms` from now. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /**
   * Fires the earliest pending timer (the clock jumps to its due time) and
   * lets the promise chains it started run.
   *
   * @returns false when no timer was pending.
   */
  async tick(): Promise<boolean> {
    await _turn();
    const next = this.#earliest();
    if (next === undefined) return false;
    this.#fire(next);
    await _turn();
    return true;
  }

  /**
   * Lets `ms` milliseconds pass: fires, in order, every timer due by then,
   * including those set by the ones fired, then sets the clock to the end.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await _turn();
      const next = this.#earliest();
      if (next === undefined || next.due > target) break;
      this.#fire(next);
    }
    this.#now = target;
    await _turn();
  }

  /**
   * Drives time until `promise` settles: whenever a timer is pending, fires
   * the earliest; otherwise waits for the promise or for a timer to be set
   * (real I/O in between is simply awaited). Use it for one chain of timers
   * (a contended acquire's backoff); with several independent chains prefer
   * {@linkcode ManualClock.advance}.
   *
   * @param promise The work to finish.
   * @param maxTimers Upper bound on the timers fired, so a runaway loop fails instead of spinning.
   * @returns What `promise` resolved to.
   * @throws What `promise` rejected with, or an Error when `maxTimers` ran out first.
   */
  async run<T>(promise: Promise<T>, maxTimers = 10_000): Promise<T> {
    let settled = false;
    const done = promise.then(() => void (settled = true), () => void (settled = true));
    for (let fired = 0; fired <= maxTimers; fired++) {
      await _turn();
      if (!settled && this.#timers.size === 0) await Promise.race([done, this.whenPending()]);
      if (settled) return await promise;
      await this.tick();
    }
    throw new Error(`ManualClock.run: still unsettled after ${maxTimers} timers`);
  }

  #earliest(): _Timer | undefined {
    let best: _Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  #fire(timer: _Timer): void {
    this.#timers.delete(timer.seq);
    if (timer.due > this.#now) this.#now = timer.due;
    timer.callback();
  }
}
