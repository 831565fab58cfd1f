/**
 * Start-up time and memory (issue 13, item 6): each way of starting the
 * service (`support/service_processes.ts`) as a fresh process, timed from
 * `spawn()` to the first 200 on its `/health`, with its resident memory at
 * that moment; against the smallest Deno HTTP server started the same way
 * in the same run (the runtime's own floor). Kinds alternate from round to
 * round, after one unrecorded start of each (Deno's caches warm, as on any
 * host that ran it once). Embedded mode's first start (an empty data folder:
 * PGlite creates its cluster and every migration runs) is timed apart from
 * its restart, and PGlite's own start is measured on its own
 * (`startup/startup_probe.ts`), as are the module graphs' import times and
 * local mode's migration check.
 *
 * @module
 */
import { median } from "../support/stats.ts";
import { processMemory, REPO_ROOT, type StandInsProcess } from "../support/processes.ts";
import { type CloudBackends, type CloudSecrets, type ServiceKind, startService } from "../support/service_processes.ts";

/** One way of starting, over its runs. */
export interface StartupRow {
  kind: ServiceKind | "embedded (first start)";
  label: string;
  /** spawn → first 200 on /health, ms, each run. */
  runsMs: number[];
  medianMs: number;
  /** median / the baseline's median. */
  ratioToBaseline: number;
  /** Resident memory at the first 200, MiB (median). */
  rssMiB: number;
  rssRatioToBaseline: number;
}

/** Phases measured inside fresh processes. */
export interface StartupProbes {
  /** `import()` of the Edge Function's graph (build_cloud_runtime + config + logger), ms per run. */
  edgeImportMs: number[];
  /** `import()` of main.ts's static graph, ms per run. */
  mainImportMs: number[];
  /** `import()` of what local and embedded modes load on top of main.ts (stand-ins, drivers, PGlite), ms per run. */
  localImportMs: number[];
  /** `import()` of `@electric-sql/pglite` alone (the SQL client imports it in local mode too), ms per run. */
  pgliteImportMs: number[];
  /** Local mode's migration check on an up-to-date Postgres database (bootstrap + one transaction per file). */
  migrateCheckMs: number[];
  /** PGlite on an empty folder: open (cluster creation), then every migration. */
  pgliteFirst: { openMs: number; migrateMs: number; applied: number } | null;
  /** PGlite on the migrated folder: open, then the migration check. */
  pgliteRestart: { openMs: number; migrateMs: number; applied: number } | null;
}

/** The start-up part of a run. */
export interface StartupResult {
  rows: StartupRow[];
  probes: StartupProbes;
  /** Target of local mode, ms. */
  localTargetMs: number;
}

const LABELS: Record<StartupRow["kind"], string> = {
  baseline: "baseline: a hello-world `Deno.serve`",
  cloud: "cloud mode: `main.ts serve` (Supabase, Upstash, Paystack by URL)",
  edge: "Edge Function entry (`supabase/functions/payments`), `/payments/health`",
  local: "local mode: `main.ts serve` with DATABASE_URL (+ gateway, proxy, sandbox, migration check)",
  embedded: "embedded mode, restart (PGlite on its migrated folder)",
  "embedded (first start)": "embedded mode, first start (empty folder: PGlite cluster + every migration)",
};

async function _probe(args: string[]): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/startup/startup_probe.ts", ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) throw new Error(`startup_probe ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

/** Measures start-up; `runs` starts per kind (embedded's first start: `firstRuns`). */
export async function measureStartup(
  options: {
    standIns: StandInsProcess;
    secrets: CloudSecrets;
    databaseUrl: string;
    redisUrl: string;
    runs: number;
    firstRuns: number;
    log: (line: string) => void;
  },
): Promise<StartupResult> {
  const { runs, firstRuns, log } = options;
  const tmp = await Deno.makeTempDir({ prefix: "bench-startup-" });
  const cloud: CloudBackends = {
    standIns: options.standIns,
    secrets: options.secrets,
    lockPrefix: `u${crypto.randomUUID().slice(0, 8)}`,
  };
  let dirs = 0;
  const local = (dataDir?: string) => ({
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    dataDir: dataDir ?? `${tmp}/data-${++dirs}`,
    lockPrefix: cloud.lockPrefix,
  });
  const samples = new Map<StartupRow["kind"], Array<{ ms: number; rss: number }>>();
  const once = async (kind: StartupRow["kind"], dataDir?: string) => {
    const service = await startService(kind === "embedded (first start)" ? "embedded" : kind, {
      cloud,
      local: local(dataDir),
    });
    const { rssMiB } = processMemory(service.pid);
    await service.stop();
    return { ms: service.startMs, rss: rssMiB };
  };
  try {
    // The embedded restarts run on a folder its first start migrated.
    const migratedDir = `${tmp}/migrated`;
    const kinds: ServiceKind[] = ["baseline", "cloud", "edge", "local", "embedded"];
    // Warm-up: one start of each, unrecorded (type-checking and transpiling caches, the npm cache).
    for (const kind of kinds) await once(kind, kind === "embedded" ? migratedDir : undefined);
    for (let round = 0; round < runs; round++) {
      const order = round % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) {
        const s = await once(kind, kind === "embedded" ? migratedDir : undefined);
        samples.set(kind, [...(samples.get(kind) ?? []), s]);
      }
      log(
        `  start-up round ${round + 1}/${runs}: ${
          kinds.map((k) => `${k} ${Math.round(samples.get(k)!.at(-1)!.ms)} ms`).join(", ")
        }`,
      );
    }
    for (let i = 0; i < firstRuns; i++) {
      const s = await once("embedded (first start)");
      samples.set("embedded (first start)", [...(samples.get("embedded (first start)") ?? []), s]);
      log(`  embedded first start ${i + 1}/${firstRuns}: ${Math.round(s.ms)} ms`);
    }

    const probes: StartupProbes = {
      edgeImportMs: [],
      mainImportMs: [],
      localImportMs: [],
      pgliteImportMs: [],
      migrateCheckMs: [],
      pgliteFirst: null,
      pgliteRestart: null,
    };
    for (let i = 0; i < runs; i++) {
      probes.edgeImportMs.push((await _probe(["import", "edge"])).importMs!);
      probes.mainImportMs.push((await _probe(["import", "main"])).importMs!);
      probes.localImportMs.push((await _probe(["import", "local"])).importMs!);
      probes.pgliteImportMs.push((await _probe(["import", "pglite"])).importMs!);
      probes.migrateCheckMs.push((await _probe(["migrate", options.databaseUrl])).migrateMs!);
    }
    const pgDir = `${tmp}/probe`;
    const first = await _probe(["pglite", pgDir]);
    const restart = await _probe(["pglite", pgDir]);
    probes.pgliteFirst = { openMs: first.openMs!, migrateMs: first.migrateMs!, applied: first.applied! };
    probes.pgliteRestart = { openMs: restart.openMs!, migrateMs: restart.migrateMs!, applied: restart.applied! };

    const base = samples.get("baseline")!;
    const baseMs = median(base.map((s) => s.ms));
    const baseRss = median(base.map((s) => s.rss));
    const rows: StartupRow[] = [...kinds, "embedded (first start)" as const].map((kind) => {
      const s = samples.get(kind) ?? [];
      const ms = median(s.map((x) => x.ms));
      const rss = median(s.map((x) => x.rss));
      return {
        kind,
        label: LABELS[kind],
        runsMs: s.map((x) => x.ms),
        medianMs: ms,
        ratioToBaseline: ms / baseMs,
        rssMiB: rss,
        rssRatioToBaseline: rss / baseRss,
      };
    });
    return { rows, probes, localTargetMs: 300 };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
