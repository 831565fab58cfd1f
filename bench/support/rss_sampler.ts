/**
 * Peak resident memory of this process while something runs, sampled every
 * 50 ms (the benchmark process holds the service, the stand-ins and the load
 * worker: an upper bound for the service alone).
 *
 * @module
 */

/** Runs `fn` and reports its result with the peak RSS seen, in MiB. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMiB: number }> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 50);
  try {
    const value = await fn();
    peak = Math.max(peak, Deno.memoryUsage().rss);
    return { value, peakRssMiB: peak / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}
