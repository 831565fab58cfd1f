/**
 * `bench/results/latest.md`: every figure of a run, each next to the
 * baseline measured in the same run, and the charts' data.
 *
 * @module
 */
import type { PathResult } from "../support/credit_paths.ts";
import { fmt, median, ratio, type RunSummary } from "../support/stats.ts";
import type { BenchResults } from "./bench_results.ts";
import type { BarChart } from "./svg_chart.ts";

const COLORS = {
  direct: "#6b7280",
  service: "#2563eb",
  split: "#16a34a",
  naive: "#dc2626",
  c1: "#93c5fd",
  c8: "#2563eb",
};

function _at(results: PathResult[], id: string, c: number): PathResult | undefined {
  return results.find((r) => r.id === id && r.concurrency === c);
}

function _rate(s: RunSummary | undefined): string {
  return s ? fmt(s.perSecond, 0) : "—";
}

function _lat(s: RunSummary | undefined): string {
  return s ? `${fmt(s.p50)} / ${fmt(s.p99)}` : "—";
}

function _money(minor: number): string {
  return `${minor >= 0 ? "+" : "−"}₦${(Math.abs(minor) / 100).toLocaleString("en-US")}`;
}

/** The throughput chart: credits/s by concurrency for direct SQL, the service and the naive design. */
export function throughputChart(r: BenchResults): BarChart {
  const levels = r.sizes.concurrency;
  const values = (id: string) => levels.map((c) => _at(r.throughput.results, id, c)?.summary.perSecond ?? NaN);
  return {
    title: "Credits per second by concurrency (distinct users)",
    subtitle: `${r.sizes.m} payments per level and path, ${r.sizes.rounds} rounds; ${r.machine.cores} cores, ` +
      `${r.startedAt.slice(0, 10)}`,
    categories: levels.map((c) => `concurrency ${c}`),
    series: [
      { name: "direct SQL (database limit)", color: COLORS.direct, values: values("direct") },
      { name: "ours, stand-ins in-process", color: COLORS.service, values: values("service") },
      { name: "ours, stand-ins on their own thread", color: COLORS.split, values: values("split") },
      { name: "naive (double-credits)", color: COLORS.naive, values: values("naive") },
    ],
    yLabel: "credits / s",
  };
}

/** The layer chart: credits/s as layers are added, per concurrency. */
export function layersChart(r: BenchResults): BarChart {
  const levels = r.sizes.ladderConcurrency;
  const ids = [...new Set(r.layers.runs.map((x) => x.id))];
  return {
    title: "Where the throughput goes: one layer added at a time",
    subtitle: "L0 direct SQL … L8 the service over HTTP (see the layer table)",
    categories: ids,
    series: levels.map((c, i) => ({
      name: `concurrency ${c}`,
      color: i === 0 ? COLORS.c1 : i === 1 ? COLORS.c8 : "#1e3a8a",
      values: ids.map((id) => _at(r.layers.runs, id, c)?.summary.perSecond ?? NaN),
    })),
    yLabel: "credits / s",
  };
}

/** Renders the report. */
export function renderMarkdownReport(r: BenchResults): string {
  const out: string[] = [];
  const line = (text = "") => out.push(text);
  const m = r.machine;
  const t = r.throughput;
  const c8 = r.sizes.concurrency.includes(8) ? 8 : r.sizes.concurrency[Math.floor(r.sizes.concurrency.length / 2)]!;
  line(`# Benchmark results`);
  line();
  line(
    `Run ${r.startedAt} in ${fmt(r.durationSeconds, 0)} s (\`deno task bench\`). Machine: ${m.cpu}, ${m.cores} ` +
      `cores, ${fmt(m.memoryGiB)} GiB, ${m.os}; Deno ${m.deno}; ${m.postgres}; Redis ${m.redis}. Load average ` +
      `${fmt(m.loadStart, 2)} at the start, ${fmt(m.loadEnd, 2)} at the end (the machine is shared: read the ` +
      `ratios, each taken against a baseline measured in the same run, minutes or seconds apart).`,
  );
  line();
  line(`Sizes: ${Object.entries(r.sizes).filter(([k]) => k !== "out").map(([k, v]) => `${k}=${v}`).join(", ")}.`);
  line();

  // Headline.
  const storm = r.storm;
  const naiveHotAudit = r.hotWallet.naiveAudits.at(-1);
  const serviceHotAudit = r.hotWallet.serviceAudits.at(-1);
  line(`## The table to remember`);
  line();
  line(
    `| design | credits/s at concurrency ${c8} | vs direct SQL | racing storm: payments credited twice | ` +
      `storm: money made up | hot wallet: credits lost |`,
  );
  line(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  const d8 = _at(t.results, "direct", c8);
  const s8 = _at(t.results, "service", c8);
  const n8 = _at(t.results, "naive", c8);
  line(`| direct SQL (the database's limit, no guarantees of its own) | ${_rate(d8?.summary)} | 1.00 | — | — | — |`);
  line(
    `| **ours** (lock + fenced SQL + provider verify, over HTTP) | ${_rate(s8?.summary)} | ` +
      `${fmt(s8?.ratioToBaseline ?? NaN, 2)} | **${storm.service.audit.creditedTwiceOrMore}** of ${storm.payments} | ` +
      `${_money(storm.service.audit.balanceError)} | ${serviceHotAudit ? _money(serviceHotAudit.balanceError) : "—"} |`,
  );
  line(
    `| naive (read, check in TS, write; over HTTP) | ${_rate(n8?.summary)} | ${fmt(n8?.ratioToBaseline ?? NaN, 2)} ` +
      `| **${storm.naive.audit.creditedTwiceOrMore}** of ${storm.payments} | ${
        _money(storm.naive.audit.balanceError)
      } | ` +
      `${
        naiveHotAudit
          ? `${_money(-naiveHotAudit.lostUpdates)} (${fmt(naiveHotAudit.lostUpdates / 10_000, 0)} credits)`
          : "—"
      } |`,
  );
  line();

  // 1. Round trips.
  line(`## 1. Round trips per operation`);
  line();
  line(
    `Counted at supabase-js' fetch (RPC per function), at the proxy the service uses as its Upstash (REST ` +
      `requests, the commands they carry and what for: the rate limiter or the lock) and where the sandbox is ` +
      `mounted (provider calls); each operation three times after a warm-up. "on path" = sent before the answer. ` +
      `Rate limits are on (raised so that nothing is refused): per user on initialize and verify (Redis), per IP ` +
      `on the webhooks (in memory, no Redis).`,
  );
  line();
  line(
    `| operation | RPCs | Redis requests (on path; rate limiter) | provider | sequence | floor | at floor | stable |`,
  );
  line(`| --- | --- | ---: | --- | --- | --- | :---: | :---: |`);
  for (const row of r.roundTrips) {
    const rpcs = Object.entries(row.rpc).map(([fn, n]) => (n > 1 ? `${fn} ×${n}` : fn)).join(" + ");
    const providers = Object.entries(row.providerOps).map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(" + ");
    const built = row.status === "measured";
    const atFloor = row.rpcTotal <= row.floorRpc;
    line(
      `| ${row.operation}${built ? "" : ` (${row.status})`} | ${built ? `${row.rpcTotal}: ${rpcs}` : "—"} | ` +
        `${built ? `${row.redis} (${row.redisOnPath}; ${row.redisRateLimit})` : "—"} | ` +
        `${built ? `${row.provider}${providers ? `: ${providers}` : ""}` : "—"} | ` +
        `${built ? `\`${row.sequence}\`` : "—"} | ${row.floor} | ${
          built ? (atFloor ? "RPC yes" : "**RPC no**") : "—"
        } | ` +
        `${built ? (row.stable ? "yes" : "**no**") : "—"} |`,
    );
  }
  line();
  for (const row of r.roundTrips) line(`- **${row.operation}** — floor ${row.floor}: ${row.why}`);
  line();

  // 2. Throughput.
  line(`## 2. Credit throughput against the database's own limit`);
  line();
  line(
    `${r.sizes.m} paid payments of distinct users per level and path, in ${r.sizes.rounds} rounds (order rotating); ` +
      `credits/s is the median of the rounds, latencies (ms) pooled. "direct" calls \`record_webhook_event\` + ` +
      `\`credit_user\` through npm:postgres (one connection per lane): no HTTP, no gateway, no lock, no provider.`,
  );
  line();
  line(`![credits per second](throughput.svg)`);
  line();
  line(
    `"ours" runs as the tests run it: the RPC gateway, the Upstash proxy and the sandbox on the service's own ` +
      `event loop. "ours, split" runs the service alone on its event loop (assembled from production code, as the ` +
      `cloud entry does) with the stand-ins on a worker thread: the shape of production, where PostgREST, Upstash ` +
      `and Paystack are other machines.`,
  );
  line();
  line(
    `| concurrency | direct credits/s | p50 / p99 | ours credits/s | p50 / p99 | **ours / direct** | ` +
      `ours, split | p50 / p99 | **split / direct** | naive credits/s | p50 / p99 | naive / direct |`,
  );
  line(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of r.sizes.concurrency) {
    const d = _at(t.results, "direct", c);
    const s = _at(t.results, "service", c);
    const sp = _at(t.results, "split", c);
    const n = _at(t.results, "naive", c);
    line(
      `| ${c} | ${_rate(d?.summary)} | ${_lat(d?.summary)} | ${_rate(s?.summary)} | ${_lat(s?.summary)} | ` +
        `**${fmt(s?.ratioToBaseline ?? NaN, 2)}** | ${_rate(sp?.summary)} | ${_lat(sp?.summary)} | ` +
        `**${fmt(sp?.ratioToBaseline ?? NaN, 2)}** | ${_rate(n?.summary)} | ${_lat(n?.summary)} | ` +
        `${fmt(n?.ratioToBaseline ?? NaN, 2)} |`,
    );
  }
  line();
  const ratio8 = s8?.ratioToBaseline ?? NaN;
  const split8 = _at(t.results, "split", c8)?.ratioToBaseline ?? NaN;
  line(
    `Target: ours / direct ≥ 0.5 at concurrency ${c8}: **${ratio8 >= 0.5 ? "met" : "missed"}** ` +
      `(${fmt(ratio8, 2)}; split topology ${fmt(split8, 2)}, ${split8 >= 0.5 ? "met" : "missed"}); the CPU table ` +
      `and the layer profile below say where the rest goes.`,
  );
  line();
  const a = t.serviceAudit;
  const sa2 = t.splitAudit;
  line(
    `Audit of the service's ${a.payments} + ${sa2.payments} (split) payments: ${a.creditedOnce} + ` +
      `${sa2.creditedOnce} credited exactly once, ${a.creditedTwiceOrMore + sa2.creditedTwiceOrMore} more than ` +
      `once, ${a.notCredited + sa2.notCredited} not credited; balance error ` +
      `${_money(a.balanceError + sa2.balanceError)}; ledger invariant violations: ${a.invariantViolations}. ` +
      `Peak RSS of the benchmark process (service + stand-ins + load worker): ${fmt(t.peakRssMiB, 0)} MiB.`,
  );
  line();
  line(
    `CPU per credit (ms), from /proc: the Deno process's main thread (the service's event loop; for "service" ` +
      `and "naive" it also runs the RPC gateway, the Upstash proxy and the sandbox), the stand-ins' thread ` +
      `(split only), the process's other threads (load worker, V8, I/O), the Postgres backends of the ` +
      `benchmark database, the Redis server.`,
  );
  line();
  line(`| concurrency | path | Deno main | stand-ins thread | Deno other | Postgres | Redis | total |`);
  line(`| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of r.sizes.concurrency) {
    for (const id of ["direct", "service", "split", "naive"]) {
      const p = _at(t.results, id, c);
      if (!p) continue;
      const u = p.cpuPerCredit;
      const total = u.denoMain + u.standIns + u.denoOther + u.postgres + (Number.isFinite(u.redis) ? u.redis : 0);
      line(
        `| ${c} | ${id} | ${fmt(u.denoMain, 2)} | ${id === "split" ? fmt(u.standIns, 2) : "—"} | ` +
          `${fmt(u.denoOther, 2)} | ${fmt(u.postgres, 2)} | ${fmt(u.redis, 2)} | ${fmt(total, 2)} |`,
      );
    }
  }
  line();

  // Layers.
  line(`### Where the rest goes: one layer at a time`);
  line();
  line(
    `The same webhook credit with one more layer of the real stack each time, ${r.sizes.ladderM} fresh payments ` +
      `per layer and level, in rounds (order reversed in the second). L1p is a side branch (the gateway's ` +
      `statements shaped as PostgREST sends them); the chain goes L1 → L2.`,
  );
  line();
  line(`![layers](layers.svg)`);
  line();
  line(
    `| layer | adds | c | credits/s | vs L0 | p50 ms | CPU ms/credit: Deno main | Postgres | all | Δ all |`,
  );
  line(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const cpuAll = (u: PathResult["cpuPerCredit"]) =>
    u.denoMain + u.standIns + u.denoOther + u.postgres + (Number.isFinite(u.redis) ? u.redis : 0);
  for (const c of r.sizes.ladderConcurrency) {
    let previous: PathResult | undefined;
    for (const run of r.layers.runs.filter((x) => x.concurrency === c)) {
      const base = run.id === "L2"
        ? _at(r.layers.runs, "L1", c)
        : run.id === "L1p"
        ? _at(r.layers.runs, "L0", c)
        : previous;
      const delta = base ? cpuAll(run.cpuPerCredit) - cpuAll(base.cpuPerCredit) : NaN;
      line(
        `| ${run.id} ${run.name} | ${run.adds} | ${c} | ${_rate(run.summary)} | ${fmt(run.ratioToBaseline, 2)} | ` +
          `${fmt(run.summary.p50, 1)} | ${fmt(run.cpuPerCredit.denoMain, 2)} | ${
            fmt(run.cpuPerCredit.postgres, 2)
          } | ` +
          `${fmt(cpuAll(run.cpuPerCredit), 2)} | ` +
          `${Number.isFinite(delta) ? (delta >= 0 ? "+" : "") + fmt(delta, 2) : "—"} |`,
      );
      if (run.id !== "L1p") previous = run;
    }
  }
  line();
  const g = r.layers.gatewaySql;
  const n = Math.max(1, r.layers.gatewaySqlCredits);
  line(
    `Inside the gateway (L2, counted at its driver wrapper): ${fmt(g.statements / n, 1)} statements, ` +
      `${fmt(g.roundTrips / n, 1)} driver round trips and ${fmt(g.transactions / n, 1)} transactions per credit ` +
      `(2 RPCs); direct SQL: 2 statements, 2 round trips, 2 transactions.`,
  );
  line();

  // 3. Storm.
  line(`## 3. The naive baseline on the racing storm`);
  line();
  line(
    `${storm.payments} paid payments per design; for each, ${storm.racersPerPayment} sent at once, ` +
      `${storm.inFlight} payments racing at a time. Settled/s counts payments (all racers answered).`,
  );
  line();
  line(
    `| design | payments settled/s | p50 / p99 ms per payment | credited once | credited twice or more | ` +
      `extra credits | balance error | lost balance updates | answers |`,
  );
  line(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
  const sa = storm.service.audit;
  const na = storm.naive.audit;
  line(
    `| ours | ${_rate(storm.service.summary)} | ${_lat(storm.service.summary)} | ${sa.creditedOnce} | ` +
      `**${sa.creditedTwiceOrMore}** | 0 | ${_money(sa.balanceError)} | 0 | ${
        JSON.stringify(storm.service.statuses)
      } |`,
  );
  line(
    `| naive | ${_rate(storm.naive.summary)} | ${_lat(storm.naive.summary)} | ` +
      `${na.credited - na.creditedTwiceOrMore} | **${na.creditedTwiceOrMore}** | ${na.extraCredits} | ` +
      `${_money(na.balanceError)} | ${_money(-na.lostUpdates)} | ${JSON.stringify(storm.naive.statuses)} |`,
  );
  line();
  line(
    `Ours / naive in the storm: ${fmt(ratio(storm.service.summary.perSecond, storm.naive.summary.perSecond), 2)}× ` +
      `the payments per second. Ledger invariant violations after the storm (ours): ${sa.invariantViolations}; not ` +
      `credited: ${sa.notCredited}.`,
  );
  line();

  // 4. Hot wallet.
  line(`## 4. Hot wallet: one user, many payments at once`);
  line();
  line(
    `${r.sizes.hotPayments} payments of one user per path and level; every credit locks the same wallet row. ` +
      `pgbench runs the same two functions from a custom script (prepared, one client per lane).`,
  );
  line();
  line(
    `| concurrency | pgbench credits/s | direct (driver) | ours | p50 / p99 | ours / pgbench | ours / direct | ` +
      `naive | naive: credits lost from the balance |`,
  );
  line(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  r.sizes.hotConcurrency.forEach((c, i) => {
    const pg = r.hotWallet.pgbench[i]?.summary;
    const d = _at(r.hotWallet.results, "direct", c);
    const s = _at(r.hotWallet.results, "service", c);
    const nv = _at(r.hotWallet.results, "naive", c);
    const lost = r.hotWallet.naiveAudits[i];
    line(
      `| ${c} | ${pg ? fmt(pg.perSecond, 0) : "n/a"} | ${_rate(d?.summary)} | ${_rate(s?.summary)} | ` +
        `${_lat(s?.summary)} | ${pg && s ? fmt(ratio(s.summary.perSecond, pg.perSecond), 2) : "—"} | ` +
        `${fmt(s?.ratioToBaseline ?? NaN, 2)} | ${_rate(nv?.summary)} | ` +
        `${lost ? `${fmt(lost.lostUpdates / 10_000, 0)} of ${lost.payments} (${_money(-lost.lostUpdates)})` : "—"} |`,
    );
  });
  line();
  const hotErr = r.hotWallet.serviceAudits.map((x) => x.balanceError);
  line(
    `Ours: balance error ${hotErr.map(_money).join(", ")}; ledger invariant violations ` +
      `${r.hotWallet.serviceAudits.map((x) => x.invariantViolations).join(", ")}.`,
  );
  line();

  // 5. Idempotency.
  const id = r.idempotency;
  line(`## 5. Idempotency`);
  line();
  line(
    `Replays: ${id.replay.keys} answered keys, each replayed ${r.sizes.replayRounds}× (${id.replay.requests} ` +
      `requests) at concurrency ${id.replay.concurrency}; the baseline calls \`begin_payment_request\` (the replay's ` +
      `one transaction) through the driver.`,
  );
  line();
  line(`| path | replays/s | p50 / p99 ms | ratio |`);
  line(`| --- | ---: | ---: | ---: |`);
  line(`| direct \`begin_payment_request\` | ${_rate(id.replay.direct)} | ${_lat(id.replay.direct)} | 1.00 |`);
  line(
    `| ours, \`POST /v1/payments\` replayed | ${_rate(id.replay.http)} | ${_lat(id.replay.http)} | ` +
      `${fmt(id.replay.ratio, 2)} |`,
  );
  line();
  line(`Answers that were not a replayed 201: ${id.replay.notReplayed}.`);
  line();
  const sk = id.sameKey;
  line(`${sk.requests} identical initializations (same user, key and body) sent at once:`);
  line();
  line(`| figure | value |`);
  line(`| --- | ---: |`);
  line(`| time to settle (first sent → last answered) | ${fmt(sk.settleMs, 0)} ms |`);
  line(`| first 201 created after | ${fmt(sk.firstCreatedMs, 1)} ms |`);
  line(`| 409 answers, p50 / p99 | ${fmt(sk.inUseP50, 1)} / ${fmt(sk.inUseP99, 1)} ms |`);
  line(`| provider initialize calls (must be 1) | **${sk.providerInitializeCalls}** |`);
  line(`| payments created (must be 1) | **${sk.paymentsCreated}** |`);
  for (const [answer, count] of Object.entries(sk.answers).sort()) line(`| answers: ${answer} | ${count} |`);
  line(`| a later retry gets the same reference | ${sk.laterReplaySameReference ? "yes" : "**no**"} |`);
  line();
  // 6. Start-up.
  const su = r.startup;
  line(`## 6. Start-up and memory`);
  line();
  line(
    `Each kind started ${r.sizes.startupRuns} times as a fresh \`deno run\` process (kinds alternating, after one ` +
      `unrecorded start of each: Deno's caches warm), timed from \`spawn()\` to the first 200 on its \`/health\`; ` +
      `resident memory (VmRSS) read at that moment. Median; the baseline is the smallest Deno HTTP server, ` +
      `started the same way in the same run.`,
  );
  line();
  line(`| start | median ms | runs (ms) | vs baseline | RSS at first 200 MiB | vs baseline |`);
  line(`| --- | ---: | --- | ---: | ---: | ---: |`);
  for (const row of su.rows) {
    line(
      `| ${row.label} | ${fmt(row.medianMs, 0)} | ${row.runsMs.map((x) => fmt(x, 0)).join(", ")} | ` +
        `${fmt(row.ratioToBaseline, 1)}× | ${fmt(row.rssMiB, 0)} | ${fmt(row.rssRatioToBaseline, 1)}× |`,
    );
  }
  line();
  const localRow = su.rows.find((x) => x.kind === "local");
  const pr = su.probes;
  line(
    `Target: local mode ≤ ${su.localTargetMs} ms to the first 200: **${
      localRow && localRow.medianMs <= su.localTargetMs ? "met" : "missed"
    }** (${fmt(localRow?.medianMs ?? NaN, 0)} ms).`,
  );
  line();
  line(`Phases, each in a fresh process (median of ${pr.edgeImportMs.length}):`);
  line();
  line(`| phase | ms |`);
  line(`| --- | ---: |`);
  line(
    `| import of the Edge Function's module graph (build_cloud_runtime, config, logger) | ${
      fmt(median(pr.edgeImportMs), 0)
    } |`,
  );
  line(`| import of \`main.ts\`'s static graph | ${fmt(median(pr.mainImportMs), 0)} |`);
  line(
    `| import of what local and embedded modes load on top (SQL client with the Postgres driver and PGlite, ` +
      `migration runner, RPC gateway, Upstash proxy with ioredis, sandbox, docs assets) | ${
        fmt(median(pr.localImportMs ?? []), 0)
      } |`,
  );
  line(
    `| … of which \`@electric-sql/pglite\` alone (imported by the SQL client in local mode too) | ${
      fmt(median(pr.pgliteImportMs ?? []), 0)
    } |`,
  );
  line(
    `| local mode's migration check (bootstrap + one transaction per migration, up to date) | ${
      fmt(median(pr.migrateCheckMs), 0)
    } |`,
  );
  if (pr.pgliteFirst) {
    line(`| PGlite start on an empty folder (cluster creation) | ${fmt(pr.pgliteFirst.openMs, 0)} |`);
    line(`| … then every migration (${pr.pgliteFirst.applied}) | ${fmt(pr.pgliteFirst.migrateMs, 0)} |`);
  }
  if (pr.pgliteRestart) {
    line(`| PGlite start on its migrated folder | ${fmt(pr.pgliteRestart.openMs, 0)} |`);
    line(`| … then the migration check | ${fmt(pr.pgliteRestart.migrateMs, 0)} |`);
  }
  line();
  const mem = r.scaleOut.memory;
  line(
    `Memory of the cloud-mode instances of section 7 (VmRSS; the hello-world baseline: ` +
      `${fmt(mem.baselineRssMiB, 0)} MiB):`,
  );
  line();
  line(`| instance | requests served | RSS at first 200 MiB | RSS at the end MiB | peak MiB | peak vs baseline |`);
  line(`| ---: | ---: | ---: | ---: | ---: | ---: |`);
  mem.instances.forEach((m, i) => {
    line(
      `| ${i + 1} | ${m.requests} | ${fmt(m.startRssMiB, 0)} | ${fmt(m.endRssMiB, 0)} | ${fmt(m.peakRssMiB, 0)} | ` +
        `${fmt(m.peakRssMiB / mem.baselineRssMiB, 1)}× |`,
    );
  });
  line();
  if (mem.trail?.length) {
    line(
      `Instance 1 after each timed run of section 7 (requests served → RSS MiB): ${
        mem.trail.map((x) => `${x.requests} → ${fmt(x.rssMiB, 0)}`).join(", ")
      }.`,
    );
    line();
  }
  line(
    `Peak RSS of the benchmark process during section 2 (service + stand-ins + load worker in one process): ` +
      `${fmt(t.peakRssMiB, 0)} MiB.`,
  );
  line();

  // 7. Scale-out.
  const so = r.scaleOut;
  line(`## 7. Scale-out in miniature`);
  line();
  line(
    `${so.points.map((p) => p.instances).join(", ")} service processes in cloud mode (\`main.ts serve\`) against ` +
      `one database, behind one stand-ins process (RPC gateway with a pool of ${so.pool} connections, Upstash ` +
      `proxy, sandbox); signed webhooks spread round-robin, ${so.concurrency} in flight; ${so.perPoint} payments ` +
      `of distinct users per instance count in ${so.rounds} rounds (order reversed every other round). CPU from ` +
      `/proc per process; Postgres = the gateway's backends; the pool sampled every 100 ms.`,
  );
  line();
  line(`![scale-out](scale_out.svg)`);
  line();
  line(
    `| instances | credits/s | vs 1 | p50 / p99 ms | CPU ms/credit: services | stand-ins | Postgres | Redis | ` +
      `load worker | total | machine busy | pool in use avg / max (of ${so.pool}) | lock waits max | ` +
      `per credit: RPC · Redis req · Redis cmd · provider |`,
  );
  line(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
  for (const p of so.points) {
    const u = p.cpuPerCredit;
    line(
      `| ${p.instances} | ${_rate(p.summary)} | ${fmt(p.ratioToOne, 2)} | ${_lat(p.summary)} | ` +
        `${fmt(u.services, 2)} | ${fmt(u.standIns, 2)} | ${fmt(u.postgres, 2)} | ${fmt(u.redis, 2)} | ` +
        `${fmt(u.bench, 2)} | ${fmt(u.total, 2)} | ${fmt(p.machineBusy * 100, 0)} % | ` +
        `${fmt(p.postgres.activeAvg, 1)} / ${p.postgres.activeMax} | ${p.postgres.lockWaitMax} | ` +
        `${fmt(p.perCredit.rpc, 2)} · ${fmt(p.perCredit.redisRequests, 2)} · ${fmt(p.perCredit.redisCommands, 2)} · ` +
        `${fmt(p.perCredit.provider, 2)} |`,
    );
  }
  line();
  const cores = r.machine.cores;
  for (const p of so.points) {
    const u = p.cpuPerCredit;
    line(
      `- ${p.instances} instance(s): ${fmt(p.summary.perSecond, 0)} credits/s × ${fmt(u.total, 2)} ms of CPU = ` +
        `${fmt((p.summary.perSecond * u.total) / 1000, 2)} of ${cores} cores for the stack; the machine was ` +
        `${fmt(p.machineBusy * 100, 0)} % busy (neighbours included). Ceiling if the ${cores} cores were the ` +
        `stack's alone: ${fmt((cores * 1000) / u.total, 0)} credits/s; one service core alone: ` +
        `${fmt(1000 / (u.services || NaN), 0)} credits/s; Postgres alone on ${cores} cores: ` +
        `${fmt((cores * 1000) / (u.postgres || NaN), 0)} credits/s.`,
    );
  }
  line();
  const sa3 = so.audit;
  line(
    `Audit of the ${sa3.payments} scale-out payments: ${sa3.creditedOnce} credited exactly once, ` +
      `${sa3.creditedTwiceOrMore} more than once, ${sa3.notCredited} not credited; balance error ` +
      `${_money(sa3.balanceError)}; ledger invariant violations: ${sa3.invariantViolations}.`,
  );
  line();
  return out.join("\n");
}

/** The scale-out chart: credits/s by instance count, next to the direct-SQL figure of section 2. */
export function scaleOutChart(r: BenchResults): BarChart {
  const so = r.scaleOut;
  const top = Math.max(...r.sizes.concurrency);
  const direct = _at(r.throughput.results, "direct", top)?.summary.perSecond ?? NaN;
  return {
    title: "Scale-out: credits per second by service processes (one database)",
    subtitle: `${so.perPoint} payments per point, ${so.concurrency} in flight, ${so.rounds} rounds; ` +
      `${r.machine.cores} cores shared by everything; ${r.startedAt.slice(0, 10)}`,
    categories: so.points.map((p) => `${p.instances} instance${p.instances > 1 ? "s" : ""}`),
    series: [
      { name: "ours, cloud-mode processes", color: COLORS.service, values: so.points.map((p) => p.summary.perSecond) },
      {
        name: `direct SQL at concurrency ${top} (section 2)`,
        color: COLORS.direct,
        values: so.points.map(() => direct),
      },
    ],
    yLabel: "credits / s",
  };
}
