/**
 * The local Upstash proxy (`src/local/upstash_proxy.ts`) served with
 * counters in front of it: REST requests, the Redis commands they carry
 * (a `/pipeline` or `/multi-exec` request carries several; Upstash bills
 * per command) and what each command was for, read from its key:
 * `ratelimit` (`<prefix>:ratelimit:…`, the per-user / per-IP limiter),
 * `lock` (`<prefix>:lock:…`, the payment lock and its fence counter), or
 * `other`. The service is pointed at it as at Upstash, so the counts are
 * what a deployment would send to Upstash.
 *
 * @module
 */
import { createUpstashProxy } from "../../src/local/upstash_proxy.ts";

/** What went through the proxy so far. */
export interface RedisCounters {
  requests: number;
  commands: number;
  /** Commands by purpose (`ratelimit`, `lock`, `other`). */
  byPurpose: Record<string, number>;
}

/** A served counting proxy. */
export interface CountingUpstash {
  url: string;
  counters: RedisCounters;
  close(): Promise<void>;
}

/** Options of {@linkcode serveCountingUpstash}. */
export interface CountingUpstashOptions {
  redisUrl: string;
  token: string;
  /**
   * Called once per REST request with `redis:<purpose>:<COMMAND>[+…]`, in
   * the order requests arrive (round-trip sequences). Counting costs a copy
   * of each small JSON body: tens of microseconds per request.
   */
  note?: (event: string) => void;
}

const EVAL = new Set(["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"]);

/** What a command was for, from its first key. */
export function commandPurpose(command: unknown[]): string {
  const name = String(command[0] ?? "").toUpperCase();
  const key = String((EVAL.has(name) ? command[3] : command[1]) ?? "");
  if (key.includes(":ratelimit:")) return "ratelimit";
  if (key.includes(":lock:")) return "lock";
  return "other";
}

/** The commands of one REST request body (`/` one, `/pipeline` and `/multi-exec` several). */
function _commands(path: string, body: string): unknown[][] {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (!Array.isArray(parsed)) return [];
    if (path === "/pipeline" || path === "/multi-exec") return parsed.filter(Array.isArray) as unknown[][];
    return [parsed];
  } catch {
    return [];
  }
}

/** Serves the proxy on an ephemeral port of 127.0.0.1. */
export function serveCountingUpstash({ redisUrl, token, note }: CountingUpstashOptions): CountingUpstash {
  const proxy = createUpstashProxy({ redisUrl, token });
  const counters: RedisCounters = { requests: 0, commands: 0, byPurpose: {} };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    counters.requests++;
    if (req.method !== "POST") {
      note?.("redis:other:GET");
      counters.commands++;
      counters.byPurpose.other = (counters.byPurpose.other ?? 0) + 1;
      return await proxy.fetch(req);
    }
    const body = await req.text();
    const path = new URL(req.url).pathname;
    const commands = _commands(path, body);
    const labels = commands.map((c) => `${commandPurpose(c)}:${String(c[0]).toUpperCase()}`);
    counters.commands += commands.length;
    for (const c of commands) {
      const purpose = commandPurpose(c);
      counters.byPurpose[purpose] = (counters.byPurpose[purpose] ?? 0) + 1;
    }
    note?.(`redis:${labels.join("+") || "other:?"}`);
    return await proxy.fetch(new Request(req.url, { method: "POST", headers: req.headers, body }));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    counters,
    async close() {
      await server.shutdown();
      await proxy.close();
    },
  };
}
