/**
 * What the benchmark ran on: CPU, memory, OS, Deno, Postgres and Redis
 * versions, and the load average (the machine is shared).
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";
import type { MachineInfo } from "../report/bench_results.ts";

async function _redisVersion(redisUrl: string): Promise<string> {
  const url = new URL(redisUrl);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 6379) });
    await conn.write(new TextEncoder().encode("INFO server\r\n"));
    const buffer = new Uint8Array(8192);
    const timer = setTimeout(() => conn?.close(), 1000);
    const n = await conn.read(buffer).finally(() => clearTimeout(timer));
    const text = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    return /redis_version:([^\r\n]+)/.exec(text)?.[1] ?? "unknown";
  } catch {
    return "unknown";
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

/** Collects the machine's description; `loadEnd` is filled in at the end of the run. */
export async function machineInfo(db: SqlClient, redisUrl: string): Promise<MachineInfo> {
  const [pg] = await db.query<{ v: string }>("select version() as v");
  return {
    cpu: _cpuModel(),
    cores: navigator.hardwareConcurrency,
    memoryGiB: Deno.systemMemoryInfo().total / 1024 ** 3,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    postgres: /^(PostgreSQL [0-9.]+)/.exec(pg?.v ?? "")?.[1] ?? "PostgreSQL",
    redis: await _redisVersion(redisUrl),
    loadStart: loadAverage(),
    loadEnd: NaN,
  };
}
