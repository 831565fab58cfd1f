/**
 * What the benchmark ran on: CPU, memory, OS, Deno, Postgres and Redis
 * versions, and the load average (the machine is shared).
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";
import type { MachineInfo } from "../report/bench_results.ts";
import { setRedisPid } from "./cpu_meter.ts";

async function _redisServer(redisUrl: string): Promise<{ version: string; pid: number | null }> {
  const url = new URL(redisUrl);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 6379) });
    await conn.write(new TextEncoder().encode("INFO server\r\n"));
    const buffer = new Uint8Array(8192);
    const timer = setTimeout(() => conn?.close(), 1000);
    const n = await conn.read(buffer).finally(() => clearTimeout(timer));
    const text = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    const pid = Number(/process_id:(\d+)/.exec(text)?.[1] ?? NaN);
    return {
      version: /redis_version:([^\r\n]+)/.exec(text)?.[1] ?? "unknown",
      pid: Number.isInteger(pid) ? pid : null,
    };
  } catch {
    return { version: "unknown", pid: null };
  } finally {
    try {
      conn?.close();
    } catch {
      // closed by the timer
    }
  }
}

function _cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1]?.trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

/** The 1-minute load average (NaN where unknown). */
export function loadAverage(): number {
  try {
    return Deno.loadavg()[0] ?? NaN;
  } catch {
    return NaN;
  }
}

/**
 * Collects the machine's description; `loadEnd` is filled in at the end of
 * the run. Tells the CPU meter which process is the benchmark's Redis (the
 * machine may run others).
 */
export async function machineInfo(db: SqlClient, redisUrl: string): Promise<MachineInfo> {
  const [pg] = await db.query<{ v: string }>("select version() as v");
  const redis = await _redisServer(redisUrl);
  setRedisPid(redis.pid);
  return {
    cpu: _cpuModel(),
    cores: navigator.hardwareConcurrency,
    memoryGiB: Deno.systemMemoryInfo().total / 1024 ** 3,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    postgres: /^(PostgreSQL [0-9.]+)/.exec(pg?.v ?? "")?.[1] ?? "PostgreSQL",
    redis: redis.version,
    loadStart: loadAverage(),
    loadEnd: NaN,
  };
}
