/**
 * Messages between the benchmark and the stand-ins worker
 * (`stand_ins_worker.ts`).
 *
 * @module
 */

/** What the worker is asked to start. */
export interface StandInsStart {
  kind: "start";
  databaseUrl: string;
  redisUrl: string;
  jwtSecret: string;
  upstashToken: string;
  paystackSecret: string;
  currencies: string[];
  /** Connections of the pool the gateway and the sandbox share (as in the in-process stack). */
  poolSize: number;
}

/** Where the stand-ins answer, and the worker thread's id (for its CPU time). */
export interface StandInsReady {
  kind: "ready";
  gatewayUrl: string;
  proxyUrl: string;
  sandboxUrl: string;
  /** `/proc/<pid>/task/<tid>` of the worker's thread, or null off Linux. */
  tid: number | null;
}

/** Stop everything; the worker answers `{ kind: "closed" }`. */
export interface StandInsClose {
  kind: "close";
}
