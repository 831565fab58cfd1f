/**
 * Scale-out in miniature (issue 13, item 7): 1, 2 and 4 service processes in
 * cloud mode (`main.ts serve`, each its own Deno process and event loop)
 * against one database, behind one set of stand-ins in a process of their
 * own (the RPC gateway with its connection pool plays PostgREST, the proxy
 * Upstash, the sandbox Paystack). Signed webhooks are spread round-robin
 * over the instances from the load worker, at one total concurrency; the
 * instance counts alternate from round to round (order reversed every
 * other round) on fresh payments of distinct users.
 *
 * What it records per instance count, to say where the ceiling is: credits/s
 * and its ratio to one instance in the same round, CPU per credit by
 * process (services, stand-ins, Postgres backends, Redis, the benchmark's
 * load worker) and the machine's busy share, the Postgres backends of the
 * gateway's pool (in use, waiting on a lock) sampled every 100 ms, and the
 * RPCs, Redis requests and commands, and provider calls per credit counted
 * by the stand-ins. Memory: each instance's resident set at its first 200
 * and at the end (with its peak), against a hello-world Deno server's.
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { cpuSnapshot } from "../support/cpu_meter.ts";
import { auditLedger, type LedgerAudit } from "../support/ledger_audit.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import { runHttpLoad } from "../support/load_client.ts";
import {
  createPaidPayments,
  type PaidPayment,
  type PaymentTarget,
  webhookRequest,
} from "../support/payments_fixture.ts";
import { machineCpu, processCpuMs, processMemory, type StandInsProcess } from "../support/processes.ts";
import { type CloudSecrets, type ServiceProcess, startService } from "../support/service_processes.ts";
import type { StandInsCounters } from "../split/stand_ins_process.ts";
import { combineRuns, median, type RawRun, type RunSummary } from "../support/stats.ts";

/** CPU ms per credit by process. */
export interface ScaleCpu {
  /** All service processes together. */
  services: number;
  standIns: number;
  postgres: number;
  redis: number;
  /** The benchmark process: the load worker (and the sampler). */
  bench: number;
  total: number;
}

/** One instance count, over its rounds. */
export interface ScalePoint {
  instances: number;
  summary: RunSummary;
  /** Median over rounds of this count's rate / one instance's rate in the same round. */
  ratioToOne: number;
  cpuPerCredit: ScaleCpu;
  /** Share of the machine's CPU (all cores) busy during the timed runs, 0–1 (everything on it, neighbours too). */
  machineBusy: number;
  /** CPU ms the whole machine spent per credit (neighbours included). */
  machineMsPerCredit: number;
  /** The gateway's Postgres backends, sampled every 100 ms during the timed runs. */
  postgres: { connections: number; activeAvg: number; activeMax: number; lockWaitAvg: number; lockWaitMax: number };
  /** Counted by the stand-ins, per credit. */
  perCredit: { rpc: number; redisRequests: number; redisCommands: number; provider: number };
}

/** Memory of the instances. */
export interface ScaleMemory {
  /** Hello-world Deno server at its first 200, MiB. */
  baselineRssMiB: number;
  instances: Array<{ startRssMiB: number; endRssMiB: number; peakRssMiB: number; requests: number }>;
  /** The first instance after each timed run: requests it had served, its RSS then (MiB). Flat = no leak. */
  trail: Array<{ requests: number; rssMiB: number }>;
}

/** The scale-out part of a run. */
export interface ScaleOutResult {
  points: ScalePoint[];
  concurrency: number;
  perPoint: number;
  rounds: number;
  pool: number;
  memory: ScaleMemory;
  audit: LedgerAudit;
}

function _poolSampler(db: SqlClient): {
  stop(): Promise<{ connections: number; active: number[]; lockWait: number[] }>;
} {
  const active: number[] = [];
  const lockWait: number[] = [];
  let connections = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const [row] = await db.query<{ total: string; active: string; lock_wait: string }>(
        `select count(*) as total,
                count(*) filter (where state = 'active') as active,
                count(*) filter (where wait_event_type = 'Lock') as lock_wait
           from pg_stat_activity
          where datname = current_database() and application_name = 'bench-stand-ins'`,
      );
      connections = Math.max(connections, Number(row!.total));
      active.push(Number(row!.active));
      lockWait.push(Number(row!.lock_wait));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { connections, active, lockWait };
    },
  };
}

function _delta(after: StandInsCounters, before: StandInsCounters) {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return {
    rpc: sum(after.rpc) - sum(before.rpc),
    redisRequests: after.redis.requests - before.redis.requests,
    redisCommands: after.redis.commands - before.redis.commands,
    provider: sum(after.provider) - sum(before.provider),
  };
}

/** Runs the scale-out measurement. */
export async function measureScaleOut(
  stack: BenchStack,
  options: {
    standIns: StandInsProcess;
    secrets: CloudSecrets;
    levels: number[];
    perPoint: number;
    rounds: number;
    concurrency: number;
    pool: number;
    deadlineMs: number;
    log: (line: string) => void;
  },
): Promise<ScaleOutResult> {
  const { standIns, secrets, levels, perPoint, rounds, concurrency, deadlineMs, log } = options;
  const most = Math.max(...levels);
  const cloud = { standIns, secrets, lockPrefix: `x${crypto.randomUUID().slice(0, 8)}` };
  const baseline = await startService("baseline", {});
  const baselineRssMiB = processMemory(baseline.pid).rssMiB;
  await baseline.stop();
  const services: ServiceProcess[] = [];
  try {
    for (let i = 0; i < most; i++) services.push(await startService("cloud", { cloud }));
    const startRss = services.map((s) => processMemory(s.pid).rssMiB);
    const requests = services.map(() => 0);
    const target = (i: number): PaymentTarget => ({
      url: services[i]!.url,
      userToken: (userId) => signDevToken({ secret: secrets.jwtSecret, userId, email: "payer@example.test" }),
      paystackSecret: secrets.paystackSecret,
      // The stand-ins' sandbox has no webhook URL: nothing to turn off.
      withoutWebhooks: (_count, pay) => pay(),
    });
    /** Paid payments made through the first `n` instances in turn. */
    const prepare = async (count: number, n: number): Promise<PaidPayment[]> => {
      const parts = await Promise.all(Array.from({ length: n }, (_, i) => {
        const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
        requests[i]! += share;
        return createPaidPayments(target(i), share, { concurrency: Math.max(1, Math.floor(8 / n)) });
      }));
      return parts.flat();
    };
    const raws = new Map<number, RawRun[]>();
    const cpu = new Map<number, ScaleCpu>();
    const busy = new Map<number, { busyMs: number; totalMs: number }>();
    const pg = new Map<number, { connections: number; active: number[]; lockWait: number[] }>();
    const counted = new Map<number, ReturnType<typeof _delta>>();
    const trail: ScaleMemory["trail"] = [{ requests: 0, rssMiB: startRss[0]! }];
    const all: PaidPayment[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? levels : [...levels].reverse();
      for (const n of order) {
        const chunk = Math.ceil(perPoint / rounds);
        const payments = await prepare(chunk + concurrency, n);
        all.push(...payments);
        const spread = (list: PaidPayment[]) =>
          list.map((p, i) => {
            requests[i % n]!++;
            return [webhookRequest(services[i % n]!, p)];
          });
        await runHttpLoad(spread(payments.slice(0, concurrency)), { concurrency, deadlineMs });
        const before = {
          services: services.slice(0, n).map((s) => processCpuMs(s.pid)),
          standIns: processCpuMs(standIns.pid),
          bench: processCpuMs(Deno.pid),
          shared: await cpuSnapshot(stack.database.db),
          machine: machineCpu(),
          counters: await standIns.counters(),
        };
        const sampler = _poolSampler(stack.database.db);
        const reply = await runHttpLoad(spread(payments.slice(concurrency)), {
          concurrency,
          deadlineMs,
          keepBodies: true,
        });
        const sampled = await sampler.stop();
        const after = {
          services: services.slice(0, n).map((s) => processCpuMs(s.pid)),
          standIns: processCpuMs(standIns.pid),
          bench: processCpuMs(Deno.pid),
          shared: await cpuSnapshot(stack.database.db),
          machine: machineCpu(),
          counters: await standIns.counters(),
        };
        trail.push({ requests: requests[0]!, rssMiB: processMemory(services[0]!.pid).rssMiB });
        const results = reply.results.flat();
        const raw: RawRun = {
          latencies: results.map((r) => r.ms),
          wallMs: reply.wallMs,
          errors: results.filter((r) => r.status !== 200 || !(r.body ?? "").includes('"credited"')).length,
        };
        raws.set(n, [...(raws.get(n) ?? []), raw]);
        // Postgres: only the gateway's backends (the benchmark's own handle and sampler excluded).
        let postgres = 0;
        const gatewayPids = new Set(
          (await stack.database.db.query<{ pid: number }>(
            "select pid from pg_stat_activity where datname = current_database() and application_name = 'bench-stand-ins'",
          )).map((r) => r.pid),
        );
        for (const [pid, ms] of after.shared.backends) {
          if (gatewayPids.has(pid)) postgres += ms - (before.shared.backends.get(pid) ?? 0);
        }
        const used: ScaleCpu = {
          services: after.services.reduce((a, b) => a + b, 0) - before.services.reduce((a, b) => a + b, 0),
          standIns: after.standIns - before.standIns,
          postgres,
          redis: after.shared.redis - before.shared.redis,
          bench: after.bench - before.bench,
          total: 0,
        };
        const sum = cpu.get(n) ?? { services: 0, standIns: 0, postgres: 0, redis: 0, bench: 0, total: 0 };
        cpu.set(n, {
          services: sum.services + used.services,
          standIns: sum.standIns + used.standIns,
          postgres: sum.postgres + used.postgres,
          redis: sum.redis + (Number.isFinite(used.redis) ? used.redis : 0),
          bench: sum.bench + used.bench,
          total: 0,
        });
        const b = busy.get(n) ?? { busyMs: 0, totalMs: 0 };
        busy.set(n, {
          busyMs: b.busyMs + after.machine.busyMs - before.machine.busyMs,
          totalMs: b.totalMs + after.machine.totalMs - before.machine.totalMs,
        });
        const p = pg.get(n) ?? { connections: 0, active: [], lockWait: [] };
        pg.set(n, {
          connections: Math.max(p.connections, sampled.connections),
          active: [...p.active, ...sampled.active],
          lockWait: [...p.lockWait, ...sampled.lockWait],
        });
        const d = _delta(after.counters, before.counters);
        const c = counted.get(n) ?? { rpc: 0, redisRequests: 0, redisCommands: 0, provider: 0 };
        counted.set(n, {
          rpc: c.rpc + d.rpc,
          redisRequests: c.redisRequests + d.redisRequests,
          redisCommands: c.redisCommands + d.redisCommands,
          provider: c.provider + d.provider,
        });
        const rate = raw.wallMs > 0 ? (raw.latencies.length / raw.wallMs) * 1000 : NaN;
        log(
          `  ${n} instance(s), round ${round + 1}/${rounds}: ${rate.toFixed(0)} credits/s, machine ${
            Math.round(
              ((after.machine.busyMs - before.machine.busyMs) /
                (after.machine.totalMs - before.machine.totalMs)) * 100,
            )
          } % busy` + (raw.errors ? ` (${raw.errors} not credited)` : ""),
        );
      }
    }
    const rateOf = (n: number, round: number) => {
      const r = raws.get(n)![round]!;
      return r.wallMs > 0 ? (r.latencies.length / r.wallMs) * 1000 : NaN;
    };
    const one = Math.min(...levels);
    const points: ScalePoint[] = levels.map((n) => {
      const summary = combineRuns(raws.get(n)!);
      const credits = Math.max(1, summary.count);
      const used = cpu.get(n)!;
      const perCredit: ScaleCpu = {
        services: used.services / credits,
        standIns: used.standIns / credits,
        postgres: used.postgres / credits,
        redis: used.redis / credits,
        bench: used.bench / credits,
        total: (used.services + used.standIns + used.postgres + used.redis + used.bench) / credits,
      };
      const b = busy.get(n)!;
      const p = pg.get(n)!;
      const c = counted.get(n)!;
      const avg = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN);
      return {
        instances: n,
        summary,
        ratioToOne: median(Array.from({ length: rounds }, (_, r) => rateOf(n, r) / rateOf(one, r))),
        cpuPerCredit: perCredit,
        machineBusy: b.totalMs > 0 ? b.busyMs / b.totalMs : NaN,
        machineMsPerCredit: b.busyMs / credits,
        postgres: {
          connections: p.connections,
          activeAvg: avg(p.active),
          activeMax: Math.max(0, ...p.active),
          lockWaitAvg: avg(p.lockWait),
          lockWaitMax: Math.max(0, ...p.lockWait),
        },
        perCredit: {
          rpc: c.rpc / credits,
          redisRequests: c.redisRequests / credits,
          redisCommands: c.redisCommands / credits,
          provider: c.provider / credits,
        },
      };
    });
    const memory: ScaleMemory = {
      baselineRssMiB,
      trail,
      instances: services.map((s, i) => {
        const m = processMemory(s.pid);
        return { startRssMiB: startRss[i]!, endRssMiB: m.rssMiB, peakRssMiB: m.peakMiB, requests: requests[i]! };
      }),
    };
    return {
      points,
      concurrency,
      perPoint,
      rounds,
      pool: options.pool,
      memory,
      audit: await auditLedger(stack, all),
    };
  } finally {
    for (const s of services) await s.stop();
  }
}
