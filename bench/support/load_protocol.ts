/**
 * Messages between the benchmark and its HTTP load worker
 * (`load_worker.ts`): plain data, so they cross the worker boundary by
 * structured clone.
 *
 * @module
 */

/** One HTTP request to send. */
export interface RequestSpec {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What the worker is asked to do. */
export interface LoadRequest {
  /** Groups of requests; a group's requests are sent together. */
  groups: RequestSpec[][];
  /** Groups in flight at a time. */
  concurrency: number;
  /** No group starts after this many milliseconds. */
  deadlineMs: number;
  /** Budget of one request. */
  requestTimeoutMs: number;
  /** Return the response bodies (otherwise they are read and dropped). */
  keepBodies: boolean;
}

/** How one request went. */
export interface LoadResult {
  /** HTTP status; 0 when the request failed (network, timeout). */
  status: number;
  /** Latency, request start to last body byte. */
  ms: number;
  /** The answer carried `Idempotent-Replayed: true`. */
  replayed: boolean;
  body?: string;
  error?: string;
}

/** The worker's answer. */
export interface LoadReply {
  /** Per group, per request; a group never started (deadline) has none. */
  results: LoadResult[][];
  /** First group start to last answer. */
  wallMs: number;
  /** Groups started. */
  started: number;
}
