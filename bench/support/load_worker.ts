/**
 * The HTTP load generator, run in a Web Worker so that building requests,
 * reading answers and timing them happen on a thread of their own, not on
 * the event loop of the service being measured (which the benchmark runs
 * in-process, like the tests).
 *
 * It receives groups of requests; `concurrency` groups are in flight at a
 * time, and the requests of one group are sent all at once (a group is one
 * payment's racing webhooks and verifies, or a single request). It stops by
 * itself: after the last group, or at the deadline (no new group starts),
 * and every request has its own timeout.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { LoadReply, LoadRequest, LoadResult } from "./load_protocol.ts";

self.onmessage = async (event: MessageEvent<LoadRequest>) => {
  const { groups, concurrency, deadlineMs, requestTimeoutMs, keepBodies } = event.data;
  const results: LoadResult[][] = groups.map(() => []);
  const start = performance.now();
  const deadline = start + deadlineMs;
  let next = 0;
  let started = 0;
  const lane = async () => {
    while (next < groups.length && performance.now() < deadline) {
      const index = next++;
      started++;
      const group = groups[index]!;
      results[index] = await Promise.all(group.map(async (spec): Promise<LoadResult> => {
        const t0 = performance.now();
        try {
          const response = await fetch(spec.url, {
            method: spec.method,
            headers: spec.headers,
            ...(spec.body === undefined ? {} : { body: spec.body }),
            signal: AbortSignal.timeout(requestTimeoutMs),
          });
          const text = await response.text();
          return {
            status: response.status,
            ms: performance.now() - t0,
            replayed: response.headers.get("idempotent-replayed") === "true",
            ...(keepBodies ? { body: text } : {}),
          };
        } catch (error) {
          return { status: 0, ms: performance.now() - t0, replayed: false, error: String(error) };
        }
      }));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  const reply: LoadReply = { results, wallMs: performance.now() - start, started };
  self.postMessage(reply);
};
