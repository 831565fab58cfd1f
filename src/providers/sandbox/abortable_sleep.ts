/**
 * A sleep that a signal can cut short, so every timer the sandbox starts can
 * be cancelled by `close()` (Deno's test sanitizers fail on a leaked timer).
 *
 * @module
 */

/**
 * Waits `ms` milliseconds unless `signal` aborts first.
 *
 * @returns `true` when the full time passed, `false` when aborted.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
