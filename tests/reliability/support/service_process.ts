/**
 * The service as a separate process (`deno run -A main.ts serve`), so a
 * suite can `kill -9` it mid-request and start it again on the same port,
 * as an orchestrator restarts a crashed instance. Everything it prints is
 * kept (its JSON log lines among it) for the suite's checks.
 *
 * @module
 */

/** The repository root (main.ts lives there). */
const ROOT = new URL("../../../", import.meta.url).pathname;

/** Variables handed through to the child besides the suite's own: what Deno needs to find its cache. */
const PASSED_THROUGH = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "NO_COLOR"];

/** How long a start may take before the suite gives up (cold module load included). */
const START_BUDGET_MS = 60_000;

/** A service process the suite controls. */
export interface ServiceProcess {
  url: string;
  port: number;
  /** Whether it runs now. */
  readonly running: boolean;
  /** How many times it was started. */
  readonly starts: number;
  /** Every line it printed, stdout and stderr, across all its lives. */
  readonly lines: string[];
  /** Exits the suite did not cause, each with the process's last lines (it is started again after each). */
  readonly crashes: string[];
  /** Resolves once it runs (at once when it does). */
  up(): Promise<void>;
  /** SIGKILL: no shutdown, no drain, requests in flight cut. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it listens. */
  start(): Promise<void>;
  /** Stops it for good (SIGKILL). */
  close(): Promise<void>;
}

/**
 * Starts `main.ts serve` on 127.0.0.1:`port` with exactly `env` (plus what
 * Deno needs to find its cache); resolves once it prints its banner, which
 * it does after it listens.
 */
export async function startServiceProcess(port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const lines: string[] = [];
  let child: Deno.ChildProcess | null = null;
  let starts = 0;
  const crashes: string[] = [];
  let waiting: Array<() => void> = [];
  const childEnv: Record<string, string> = { NO_COLOR: "1", ...env, PORT: String(port), HOSTNAME: "127.0.0.1" };
  for (const name of PASSED_THROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) childEnv[name] = value;
  }

  const collect = (stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) => {
    (async () => {
      let rest = "";
      try {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          rest += chunk;
          const parts = rest.split("\n");
          rest = parts.pop()!;
          for (const line of parts) onLine(line);
        }
      } catch { /* killed */ }
      if (rest) onLine(rest);
    })();
  };

  const start = async (): Promise<void> => {
    if (child) return;
    starts++;
    const spawned = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "serve"],
      cwd: ROOT,
      clearEnv: true,
      env: childEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => listening = resolve);
    collect(spawned.stdout, (line) => {
      lines.push(line);
      if (line.includes("SMS payments service listening on")) listening();
    });
    collect(spawned.stderr, (line) => lines.push(line));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      ready.then(() => "ready" as const),
      spawned.status.then(() => "exited" as const),
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), START_BUDGET_MS)),
    ]);
    clearTimeout(timer);
    if (outcome !== "ready") {
      try {
        spawned.kill("SIGKILL");
      } catch { /* already gone */ }
      await spawned.status;
      throw new Error(`the service did not start (${outcome}):\n${lines.slice(-30).join("\n")}`);
    }
    child = spawned;
    spawned.status.then((status) => {
      if (child !== spawned) return; // killed on purpose
      child = null;
      crashes.push(`exited by itself (code ${status.code}, signal ${status.signal}):\n${lines.slice(-12).join("\n")}`);
      // As an orchestrator would: a crashed instance is started again (the crash is still a finding).
      if (crashes.length <= 20) start().catch((error) => crashes.push(`restart failed: ${error}`));
    });
    const woken = waiting;
    waiting = [];
    for (const wake of woken) wake();
  };

  const kill = async () => {
    if (!child) return;
    const c = child;
    child = null;
    try {
      c.kill("SIGKILL");
    } catch { /* it exited by itself a moment ago: its status handler saw it as ours */ }
    await c.status;
  };

  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== null;
    },
    get starts() {
      return starts;
    },
    lines,
    crashes,
    up: () => child ? Promise.resolve() : new Promise((resolve) => waiting.push(resolve)),
    kill,
    start,
    close: kill,
  };
}
