/**
 * Child processes of the benchmark (the service as `deno run`, the
 * stand-ins process, a hello-world baseline): started with a clean
 * environment on a free port of 127.0.0.1, timed from `spawn()` to the first
 * 200 of their health URL, read from `/proc` (CPU, resident memory), and
 * always stopped: SIGTERM, then SIGKILL after a bound, by whoever started
 * it, and by {@linkcode stopAllChildren} when the benchmark is interrupted
 * (the stand-ins process also stops when its stdin, a pipe the benchmark
 * holds, closes).
 *
 * @module
 */
import type { StandInsCounters, StandInsProcessReady } from "../split/stand_ins_process.ts";
import type { StandInsStart } from "../split/stand_ins_protocol.ts";

/** The repository root (the children's working directory). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** The stop of every child still running. */
const _running = new Set<() => Promise<void>>();

/** Stops every child this process started and has not stopped yet. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([..._running].map((stop) => stop().catch(() => {})));
}

/** A port of 127.0.0.1 free a moment ago (the OS picks it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** CPU milliseconds a process has used (all its threads), NaN when unknown. */
export function processCpuMs(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Resident memory now and at its peak (VmRSS, VmHWM), MiB; NaN when unknown. */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
    return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
  } catch {
    return { rssMiB: NaN, peakMiB: NaN };
  }
}

/** Busy and total CPU time of the whole machine so far (ms, all cores; /proc/stat). */
export function machineCpu(): { busyMs: number; totalMs: number } {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busyMs: (total - idle) * TICK_MS, totalMs: total * TICK_MS };
  } catch {
    return { busyMs: NaN, totalMs: NaN };
  }
}

/** A running child. */
export interface Child {
  pid: number;
  /** Its base URL (`http://127.0.0.1:<port>`), when it serves HTTP. */
  url: string;
  /** `spawn()` → first 200 of its health URL, ms. */
  startMs: number;
  /** What it wrote to stderr so far (the last 4 KiB). */
  stderr(): string;
  stop(): Promise<void>;
}

/** How to start a child. */
export interface ChildSpec {
  /** Arguments of `deno` (`run`, permissions, the entry, its arguments). */
  args: string[];
  /** Its whole environment (HOME, PATH and DENO_DIR are added). */
  env: Record<string, string>;
  /** Path polled on its port until it answers 200 (`/health`). */
  healthPath: string;
  /** The port it serves on (in `env` too). */
  port: number;
  /** Longest wait for the first 200. @default 60_000 */
  bootBudgetMs?: number;
  /** Keep its stdout (logs) or drop it. @default drop */
  stdout?: "null" | "piped";
}

function _baseEnv(): Record<string, string> {
  return Object.fromEntries(["HOME", "PATH", "DENO_DIR"].flatMap((k) => {
    const v = Deno.env.get(k);
    return v ? [[k, v]] : [];
  }));
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spawns `spec` and waits for its first 200; throws (after stopping it) when it exits or the budget runs out. */
export async function startChild(spec: ChildSpec): Promise<Child> {
  const url = `http://127.0.0.1:${spec.port}`;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: spec.args,
    cwd: REPO_ROOT,
    clearEnv: true,
    env: { ..._baseEnv(), NO_COLOR: "1", ...spec.env },
    stdin: "piped",
    stdout: spec.stdout ?? "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drain = (async () => {
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr = (stderr + chunk).slice(-4096);
      }
    } catch { /* closed */ }
  })();
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));
  let stopped: Promise<void> | null = null;
  const stop = () =>
    stopped ??= (async () => {
      _running.delete(stop);
      if (exited === null) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5_000);
        await status;
        clearTimeout(timer);
      }
      try {
        await child.stdin.close();
      } catch { /* closed */ }
      await drain;
    })();
  _running.add(stop);
  const deadline = t0 + (spec.bootBudgetMs ?? 60_000);
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(
        `${spec.args.join(" ")} exited (${(exited as Deno.CommandStatus).code}) before serving:\n${stderr}`,
      );
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${spec.args.join(" ")} did not answer ${spec.healthPath} within the budget:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}${spec.healthPath}`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    await _sleep(5);
  }
  return { pid: child.pid, url, startMs: performance.now() - t0, stderr: () => stderr, stop };
}

/** The stand-ins process, started. */
export interface StandInsProcess extends StandInsProcessReady {
  pid: number;
  counters(): Promise<StandInsCounters>;
  stop(): Promise<void>;
}

/** Starts `bench/split/stand_ins_process.ts` and waits for its ready line. */
export async function startStandInsProcess(settings: Omit<StandInsStart, "kind">): Promise<StandInsProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../split/stand_ins_process.ts", import.meta.url).pathname],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: { ..._baseEnv(), NO_COLOR: "1", BENCH_STAND_INS: JSON.stringify(settings) },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drainErr = (async () => {
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr = (stderr + chunk).slice(-4096);
      }
    } catch { /* closed */ }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped: Promise<void> | null = null;
  const stop = () => stopped ??= _stop();
  const _stop = async () => {
    _running.delete(stop);
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const kill = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await child.status;
    clearTimeout(kill);
    try {
      await child.stdin.close();
    } catch { /* closed */ }
    await reader.cancel().catch(() => {});
    await drainErr;
  };
  _running.add(stop);
  try {
    const ready = await Promise.race([
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`The stand-ins process exited before it was ready:\n${stderr}`);
          buffer += value;
          const newline = buffer.indexOf("\n");
          if (newline >= 0) return JSON.parse(buffer.slice(0, newline)) as StandInsProcessReady;
        }
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`The stand-ins process was not ready in 60 s:\n${stderr}`)), 60_000);
      }),
    ]);
    // Keep reading its stdout so that it never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* drop */ }
      } catch { /* cancelled */ }
    })();
    return {
      ...ready,
      pid: child.pid,
      counters: async () => await (await fetch(`${ready.controlUrl}/counters`)).json() as StandInsCounters,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
