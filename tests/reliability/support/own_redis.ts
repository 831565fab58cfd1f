/**
 * A Redis server of the test's own (`redis-server` on a free port of
 * 127.0.0.1, no persistence), so a suite can stop, restart and flush it
 * without touching the Redis other suites share.
 *
 * @module
 */
import { Redis as IORedis } from "ioredis";
import { freePort } from "../../support/free_port.ts";

/** A redis-server the test started. */
export interface OwnRedis {
  port: number;
  url: string;
  /** Whether it runs now. */
  readonly running: boolean;
  /** Kills it (SIGKILL: an outage, not a shutdown); resolves once the process is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence); resolves once it accepts connections. */
  start(): Promise<void>;
  /** FLUSHALL: every key gone, as a new or evicted database. */
  flush(): Promise<void>;
  /** Stops it for good. */
  close(): Promise<void>;
}

async function _spawn(port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // Redis logs this line once it listens: an event to wait for, not a delay.
  let log = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!log.includes("Ready to accept connections")) {
    const { value, done } = await reader.read();
    if (done) break;
    log += value;
  }
  if (!log.includes("Ready to accept connections")) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`redis-server did not start on port ${port}: ${log.slice(-500)}`);
  }
  // Keep draining its output so a full pipe never blocks it.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  return child;
}

/** Starts a redis-server on a free port. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = freePort();
  let child: Deno.ChildProcess | null = await _spawn(port);
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (!child) return;
    const c = child;
    child = null;
    c.kill("SIGKILL");
    await c.status;
  };
  return {
    port,
    url,
    get running() {
      return child !== null;
    },
    stop,
    async start() {
      if (child) return;
      child = await _spawn(port);
    },
    async flush() {
      const client = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
    close: stop,
  };
}
