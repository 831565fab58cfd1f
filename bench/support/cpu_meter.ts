/**
 * Where the CPU goes during a run, by process: the Deno process (its main
 * thread — the service's one event loop, with the gateway, the proxy and the
 * sandbox beside it — and its other threads: the load worker, V8's helpers,
 * the I/O runtime), the Postgres backends connected to the benchmark's
 * database, and the Redis server. Read from `/proc` (Linux; elsewhere the
 * figures are missing, not wrong). Clock ticks are 10 ms: runs must last
 * seconds for the per-operation figures to mean something.
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";

/** CPU milliseconds consumed so far, by component. */
export interface CpuSnapshot {
  denoMain: number;
  denoOther: number;
  /** The stand-ins worker thread, when they run on one (else 0, and their work is in `denoMain`). */
  standIns: number;
  postgres: number;
  redis: number;
  /** Per Postgres backend pid (backends come and go between snapshots). */
  backends: Map<number, number>;
}

/** CPU milliseconds consumed between two snapshots. */
export interface CpuUsage {
  denoMain: number;
  denoOther: number;
  standIns: number;
  postgres: number;
  redis: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

function _ticksOf(path: string): number {
  try {
    const text = Deno.readTextFileSync(path);
    // The command name may hold spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

let _redisPid: number | null | undefined;

/** The Redis server's pid (from its `INFO server`); otherwise the first `redis-server` in /proc is taken. */
export function setRedisPid(pid: number | null): void {
  if (pid !== null) _redisPid = pid;
}

function _findRedisPid(): number | null {
  if (_redisPid !== undefined) return _redisPid;
  _redisPid = null;
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim() === "redis-server") {
          _redisPid = Number(entry.name);
          break;
        }
      } catch {
        // gone
      }
    }
  } catch {
    // no /proc
  }
  return _redisPid;
}

/** Takes a snapshot; `db` lists the backends of its own database; `standInsTid` is the stand-ins' thread. */
export async function cpuSnapshot(db: SqlClient, standInsTid: number | null = null): Promise<CpuSnapshot> {
  const rows = await db.query<{ pid: number }>(
    // Every backend, the one answering included: leaving it out would drop a
    // different pooled backend from each snapshot.
    "select pid from pg_stat_activity where datname = current_database()",
  );
  const backends = new Map<number, number>();
  let postgres = 0;
  for (const { pid } of rows) {
    const ms = _ticksOf(`/proc/${pid}/stat`);
    if (Number.isFinite(ms)) {
      backends.set(pid, ms);
      postgres += ms;
    }
  }
  const total = _ticksOf(`/proc/${Deno.pid}/stat`);
  const main = _ticksOf(`/proc/${Deno.pid}/task/${Deno.pid}/stat`);
  const standIns = standInsTid === null ? 0 : _ticksOf(`/proc/${Deno.pid}/task/${standInsTid}/stat`);
  const redisPid = _findRedisPid();
  return {
    denoMain: main,
    denoOther: total - main - standIns,
    standIns,
    postgres,
    redis: redisPid === null ? NaN : _ticksOf(`/proc/${redisPid}/stat`),
    backends,
  };
}

/** What was consumed from `before` to `after` (backends born in between count from zero). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  let postgres = 0;
  for (const [pid, ms] of after.backends) postgres += ms - (before.backends.get(pid) ?? 0);
  return {
    denoMain: after.denoMain - before.denoMain,
    // total − main, read a moment apart: a tick of jitter either way, never below zero.
    denoOther: Math.max(0, after.denoOther - before.denoOther),
    standIns: after.standIns - before.standIns,
    postgres,
    redis: after.redis - before.redis,
  };
}
