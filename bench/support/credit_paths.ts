/**
 * A credit path is one way of settling paid payments (the service over HTTP,
 * one of its layers in-process, direct SQL, the naive design), and
 * {@linkcode measurePaths} runs several of them side by side: per
 * concurrency level, in rounds, the paths' order rotating from round to
 * round, each run on fresh payments after a warm-up of its own (one credit
 * per lane: connections opened, functions compiled, scripts loaded). The
 * rate of a path is the median of its rounds' rates, and its ratio to the
 * baseline the median of the per-round ratios: both ran back to back, so a
 * noisy neighbour moves both.
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";
import { cpuBetween, cpuSnapshot, type CpuUsage } from "./cpu_meter.ts";
import { runHttpLoad } from "./load_client.ts";
import type { RequestSpec } from "./load_protocol.ts";
import type { PaidPayment } from "./payments_fixture.ts";
import { runPool } from "./run_pool.ts";
import { combineRuns, median, type RawRun, type RunSummary } from "./stats.ts";

/** Settles one payment in-process; resolves with the outcome ("credited" expected). */
export type Settle = (payment: PaidPayment) => Promise<unknown>;

/** One way of settling payments. */
export interface CreditPath {
  id: string;
  name: string;
  /** What this path adds (or is). */
  adds: string;
  /** `count` paid payments for this path, of one `owner` when given. */
  prepare(count: number, owner?: string): Promise<PaidPayment[]>;
  /** In-process paths: lanes for concurrency `c` (a driver pool of `c`, say), closed after the run. */
  open?: (c: number) => Promise<{ settle: Settle; close(): Promise<void> }>;
  /** HTTP paths: the request that settles a payment (sent from the load worker). */
  request?: (payment: PaidPayment) => RequestSpec;
  /** HTTP paths: whether an answer body means "credited". @default contains `"credited"` */
  credited?: (body: string) => boolean;
}

/** One path at one concurrency level. */
export interface PathResult {
  id: string;
  name: string;
  adds: string;
  concurrency: number;
  summary: RunSummary;
  /** Median over rounds of this path's rate / the baseline's rate in the same round. */
  ratioToBaseline: number;
  /** CPU ms per credit by component (all rounds). */
  cpuPerCredit: CpuUsage;
  /** Every payment it was given (for audits). */
  payments: PaidPayment[];
}

/** Options of {@linkcode measurePaths}. */
export interface MeasureOptions {
  levels: number[];
  /** Payments per path and level, split over the rounds. */
  perLevel: number;
  rounds: number;
  deadlineMs: number;
  /** Id of the path the others are divided by. */
  baseline: string;
  /** The benchmark database, for the CPU meter. */
  db: SqlClient;
  /** One owner per path and level (the hot wallet) instead of one per payment. */
  oneOwner?: boolean;
  /** The stand-ins' worker thread, when they run on one (its CPU is reported apart). */
  standInsTid?: number | null;
  log: (line: string) => void;
}

async function _run(
  path: CreditPath,
  warm: PaidPayment[],
  timed: PaidPayment[],
  c: number,
  deadlineMs: number,
  db: SqlClient,
  tid: number | null,
): Promise<{ raw: RawRun; cpu: CpuUsage }> {
  if (path.request) {
    const ok = path.credited ?? ((body: string) => body.includes('"credited"'));
    await runHttpLoad(warm.map((p) => [path.request!(p)]), { concurrency: c, deadlineMs });
    const before = await cpuSnapshot(db, tid);
    const reply = await runHttpLoad(timed.map((p) => [path.request!(p)]), {
      concurrency: c,
      deadlineMs,
      keepBodies: true,
    });
    const cpu = cpuBetween(before, await cpuSnapshot(db, tid));
    const results = reply.results.flat();
    return {
      raw: {
        latencies: results.map((r) => r.ms),
        wallMs: reply.wallMs,
        errors: results.filter((r) => r.status !== 200 || !ok(r.body ?? "")).length,
      },
      cpu,
    };
  }
  const lanes = await path.open!(c);
  try {
    const settle = async (p: PaidPayment) => {
      const outcome = await lanes.settle(p);
      if (outcome !== "credited") throw new Error(`${path.id} answered ${JSON.stringify(outcome)}`);
    };
    await runPool(warm, settle, { concurrency: c, deadlineMs });
    const before = await cpuSnapshot(db, tid);
    const run = await runPool(timed, settle, { concurrency: c, deadlineMs });
    const cpu = cpuBetween(before, await cpuSnapshot(db, tid));
    if (run.errors > 0) throw new Error(`${path.id} failed ${run.errors} credits: ${run.firstErrors.join("; ")}`);
    return { raw: run, cpu };
  } finally {
    await lanes.close();
  }
}

/** Runs `paths` side by side; results in path order, per level. */
export async function measurePaths(paths: CreditPath[], options: MeasureOptions): Promise<PathResult[]> {
  const { levels, perLevel, rounds, deadlineMs, baseline, db, oneOwner = false, standInsTid = null, log } = options;
  const results: PathResult[] = [];
  for (const c of levels) {
    const raws = new Map<string, RawRun[]>();
    const cpu = new Map<string, CpuUsage>();
    const given = new Map<string, PaidPayment[]>();
    const owners = new Map(paths.map((p) => [p.id, oneOwner ? crypto.randomUUID() : undefined]));
    for (let round = 0; round < rounds; round++) {
      const chunk = Math.ceil(perLevel / rounds);
      const order = round % 2 === 0 ? paths : [...paths].reverse();
      for (const path of order) {
        const payments = await path.prepare(chunk + c, owners.get(path.id));
        const { raw, cpu: used } = await _run(
          path,
          payments.slice(0, c),
          payments.slice(c),
          c,
          deadlineMs,
          db,
          standInsTid,
        );
        raws.set(path.id, [...(raws.get(path.id) ?? []), raw]);
        const sum = cpu.get(path.id) ?? { denoMain: 0, denoOther: 0, standIns: 0, postgres: 0, redis: 0 };
        cpu.set(path.id, {
          denoMain: sum.denoMain + used.denoMain,
          denoOther: sum.denoOther + used.denoOther,
          standIns: sum.standIns + used.standIns,
          postgres: sum.postgres + used.postgres,
          redis: sum.redis + used.redis,
        });
        given.set(path.id, [...(given.get(path.id) ?? []), ...payments]);
        const rate = raw.wallMs > 0 ? (raw.latencies.length / raw.wallMs) * 1000 : NaN;
        log(
          `  c=${c} round ${round + 1}/${rounds} ${path.id}: ${rate.toFixed(0)}/s` +
            (raw.errors ? ` (${raw.errors} not credited)` : ""),
        );
      }
    }
    const rateOf = (id: string, round: number) => {
      const r = raws.get(id)![round]!;
      return r.wallMs > 0 ? (r.latencies.length / r.wallMs) * 1000 : NaN;
    };
    for (const path of paths) {
      const summary = combineRuns(raws.get(path.id)!);
      const n = Math.max(1, summary.count);
      const used = cpu.get(path.id)!;
      results.push({
        id: path.id,
        name: path.name,
        adds: path.adds,
        concurrency: c,
        summary,
        ratioToBaseline: median(
          Array.from({ length: rounds }, (_, r) => rateOf(path.id, r) / rateOf(baseline, r)),
        ),
        cpuPerCredit: {
          denoMain: used.denoMain / n,
          denoOther: used.denoOther / n,
          standIns: used.standIns / n,
          postgres: used.postgres / n,
          redis: used.redis / n,
        },
        payments: given.get(path.id)!,
      });
    }
  }
  return results;
}
