/**
 * Bounded-concurrency runner for in-process load (direct SQL, one layer of
 * the service at a time): `concurrency` lanes take the next item until the
 * items or the time run out, timing each call.
 *
 * @module
 */
import { type RunSummary, summarize } from "./stats.ts";

/** Options of {@linkcode runPool}. */
export interface PoolOptions {
  concurrency: number;
  /** No item starts after this. @default 60_000 */
  deadlineMs?: number;
}

/** A pool run: the summary, every latency, and the errors seen (first few). */
export interface PoolRun extends RunSummary {
  latencies: number[];
  firstErrors: string[];
}

/**
 * Runs `fn` over `items`, `concurrency` at a time, until done or the deadline.
 *
 * @example
 * ```ts
 * const run = await runPool(payments, (p) => credit(p), { concurrency: 8 });
 * ```
 */
export async function runPool<T>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<unknown>,
  { concurrency, deadlineMs = 60_000 }: PoolOptions,
): Promise<PoolRun> {
  const latencies: number[] = [];
  const firstErrors: string[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + deadlineMs;
  const lane = async () => {
    while (next < items.length && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      try {
        await fn(items[index]!, index);
      } catch (error) {
        errors++;
        if (firstErrors.length < 3) firstErrors.push(error instanceof Error ? error.message : String(error));
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return { ...summarize(latencies, performance.now() - start, errors), latencies, firstErrors };
}
