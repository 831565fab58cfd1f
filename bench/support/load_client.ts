/**
 * Runs HTTP load from the worker in `load_worker.ts` and waits for its answer.
 *
 * @module
 */
import type { LoadReply, LoadRequest, RequestSpec } from "./load_protocol.ts";

/** Options of {@linkcode runHttpLoad}. */
export interface HttpLoadOptions {
  /** Groups in flight at a time. */
  concurrency: number;
  /** No group starts after this. @default 60_000 */
  deadlineMs?: number;
  /** Budget of one request. @default 30_000 */
  requestTimeoutMs?: number;
  /** Return response bodies. @default false */
  keepBodies?: boolean;
}

/**
 * Sends `groups` from a fresh worker (one per run, terminated afterwards).
 *
 * @example
 * ```ts
 * const reply = await runHttpLoad([[{ url, method: "GET", headers: {} }]], { concurrency: 1 });
 * ```
 */
export function runHttpLoad(
  groups: RequestSpec[][],
  { concurrency, deadlineMs = 60_000, requestTimeoutMs = 30_000, keepBodies = false }: HttpLoadOptions,
): Promise<LoadReply> {
  const worker = new Worker(new URL("./load_worker.ts", import.meta.url).href, { type: "module" });
  return new Promise<LoadReply>((resolve, reject) => {
    // The worker's own deadline plus the longest request, with room to report.
    const guard = setTimeout(() => {
      worker.terminate();
      reject(new Error("The load worker did not answer in time"));
    }, deadlineMs + requestTimeoutMs + 10_000);
    worker.onmessage = (event: MessageEvent<LoadReply>) => {
      clearTimeout(guard);
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      clearTimeout(guard);
      worker.terminate();
      event.preventDefault();
      reject(new Error(`The load worker failed: ${event.message}`));
    };
    const request: LoadRequest = { groups, concurrency, deadlineMs, requestTimeoutMs, keepBodies };
    worker.postMessage(request);
  });
}
