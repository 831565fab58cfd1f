/**
 * `deno task bench`: the whole benchmark, on the real local stack started
 * in-process (Postgres at `DATABASE_URL`, Redis at `REDIS_URL`, both on
 * 127.0.0.1 by default), on a database of its own that is dropped at the end.
 * Writes `bench/results/latest.md`, `latest.json`, `throughput.svg`,
 * `layers.svg` and `scale_out.svg` (the folder is `BENCH_OUT`). Sizes come
 * from `BENCH_*` variables (see `support/bench_sizes.ts` and
 * docs/PERFORMANCE.md); `BENCH_SMOKE=1` is a quick run that only checks the
 * code works.
 *
 * Sections 1–5 run the service in-process (as the tests do); 6 and 7 start
 * it as separate processes (`deno run main.ts serve`, the Edge Function
 * entry) against the stand-ins in a process of their own, all on
 * 127.0.0.1; every child is stopped at the end, or on SIGINT / SIGTERM.
 *
 * Every load loop is bounded in count (the sizes) and in time
 * (`BENCH_PHASE_SECONDS` per loop, and per-request timeouts), and targets
 * only the stack this process started.
 *
 * @module
 */
import { startNaiveStack } from "./naive/naive_stack.ts";
import type { BenchResults } from "./report/bench_results.ts";
import { layersChart, renderMarkdownReport, scaleOutChart, throughputChart } from "./report/markdown_report.ts";
import { renderBarChart } from "./report/svg_chart.ts";
import { measureCreditThroughput } from "./sections/credit_throughput.ts";
import { measureHotWallet } from "./sections/hot_wallet.ts";
import { measureIdempotency } from "./sections/idempotency.ts";
import { buildLayers } from "./sections/layer_profile.ts";
import { runRacingStorm } from "./sections/racing_storm.ts";
import { measureRoundTrips } from "./sections/round_trips.ts";
import { measureScaleOut } from "./sections/scale_out.ts";
import { measureStartup } from "./sections/startup.ts";
import { benchRedisUrl, startBenchStack } from "./support/bench_stack.ts";
import { benchSizes } from "./support/bench_sizes.ts";
import { measurePaths } from "./support/credit_paths.ts";
import { loadAverage, machineInfo } from "./support/machine_info.ts";
import { startStandInsProcess, stopAllChildren } from "./support/processes.ts";
import { newCloudSecrets } from "./support/service_processes.ts";

const sizes = benchSizes(Deno.env.toObject());
const started = performance.now();
const startedAt = new Date().toISOString();
const log = (line: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const deadlineMs = sizes.phaseSeconds * 1000;
if (sizes.scaleInstances.some((n) => n > 8)) throw new RangeError("BENCH_SCALE_INSTANCES: at most 8 processes");
// Ctrl-C or a kill: stop the service processes this run started before leaving.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await stopAllChildren();
    Deno.exit(130);
  });
}

const stack = await startBenchStack({ poolSize: sizes.pool });
try {
  const naive = await startNaiveStack(stack);
  try {
    const machine = await machineInfo(stack.database.db, benchRedisUrl());
    log(`stack up at ${stack.url} (database ${new URL(stack.database.url).pathname.slice(1)})`);

    log("1. round trips per operation");
    const roundTrips = await measureRoundTrips(stack);

    log(`2. credit throughput: ${sizes.m} payments per level and path, levels ${sizes.concurrency.join(", ")}`);
    const throughput = await measureCreditThroughput(stack, naive, {
      m: sizes.m,
      levels: sizes.concurrency,
      rounds: sizes.rounds,
      deadlineMs,
      poolSize: sizes.pool,
      log,
    });

    log(
      `2b. layer profile: ${sizes.ladderM} payments per layer and level, levels ${sizes.ladderConcurrency.join(", ")}`,
    );
    const layers = await buildLayers(stack, { poolSize: sizes.pool });
    let layerRuns;
    try {
      layerRuns = await measurePaths(layers.paths, {
        levels: sizes.ladderConcurrency,
        perLevel: sizes.ladderM,
        rounds: sizes.ladderRounds,
        deadlineMs,
        baseline: "L0",
        db: stack.database.db,
        log,
      });
    } finally {
      await layers.close();
    }
    const l2 = layerRuns.filter((x) => x.id === "L2");
    // L2's gateway counted its own statements, warm-up credits included.
    const gatewaySqlCredits = l2.reduce((sum, x) => sum + x.payments.length, 0);

    log(`3. racing storm: ${sizes.stormPayments} payments per design`);
    const storm = await runRacingStorm(stack, naive, {
      payments: sizes.stormPayments,
      webhooks: sizes.stormWebhooks,
      verifies: sizes.stormVerifies,
      inFlight: sizes.stormInFlight,
      deadlineMs,
    });

    log(`4. hot wallet: ${sizes.hotPayments} payments of one user, levels ${sizes.hotConcurrency.join(", ")}`);
    const hotWallet = await measureHotWallet(stack, naive, {
      payments: sizes.hotPayments,
      levels: sizes.hotConcurrency,
      deadlineMs,
      log,
    });

    log(`5. idempotency: ${sizes.replayKeys} keys × ${sizes.replayRounds} replays; ${sizes.sameKey} identical at once`);
    const idempotency = await measureIdempotency(stack, {
      keys: sizes.replayKeys,
      rounds: sizes.replayRounds,
      concurrency: sizes.replayConcurrency,
      sameKey: sizes.sameKey,
      deadlineMs,
      log,
    });

    // 6 and 7: the service as processes, the stand-ins in a process of their own (cloud-shaped secrets).
    const secrets = newCloudSecrets();
    const standIns = await startStandInsProcess({
      databaseUrl: stack.database.url,
      redisUrl: benchRedisUrl(),
      jwtSecret: secrets.jwtSecret,
      upstashToken: secrets.upstashToken,
      paystackSecret: secrets.paystackSecret,
      currencies: stack.config.currencies.map((c) => c.code),
      poolSize: sizes.pool,
    });
    let startup, scaleOut;
    try {
      log(
        `6. start-up and memory: ${sizes.startupRuns} starts per kind, ${sizes.startupFirstRuns} embedded first starts`,
      );
      startup = await measureStartup({
        standIns,
        secrets,
        databaseUrl: stack.database.url,
        redisUrl: benchRedisUrl(),
        runs: sizes.startupRuns,
        firstRuns: sizes.startupFirstRuns,
        log,
      });
      log(
        `7. scale-out: ${sizes.scaleInstances.join(", ")} service processes, ${sizes.scaleM} payments each, ` +
          `concurrency ${sizes.scaleConcurrency}`,
      );
      scaleOut = await measureScaleOut(stack, {
        standIns,
        secrets,
        levels: sizes.scaleInstances,
        perPoint: sizes.scaleM,
        rounds: sizes.scaleRounds,
        concurrency: sizes.scaleConcurrency,
        pool: sizes.pool,
        deadlineMs,
        log,
      });
    } finally {
      await standIns.stop();
    }

    const results: BenchResults = {
      startedAt,
      durationSeconds: (performance.now() - started) / 1000,
      machine: { ...machine, loadEnd: loadAverage() },
      sizes,
      roundTrips,
      throughput,
      layers: { runs: layerRuns, gatewaySql: layers.gatewaySql, gatewaySqlCredits },
      storm,
      hotWallet,
      idempotency,
      startup,
      scaleOut,
    };
    await Deno.mkdir(sizes.out, { recursive: true });
    await Deno.writeTextFile(`${sizes.out}/latest.md`, renderMarkdownReport(results));
    await Deno.writeTextFile(`${sizes.out}/throughput.svg`, renderBarChart(throughputChart(results)));
    await Deno.writeTextFile(`${sizes.out}/layers.svg`, renderBarChart(layersChart(results)));
    await Deno.writeTextFile(`${sizes.out}/scale_out.svg`, renderBarChart(scaleOutChart(results)));
    await Deno.writeTextFile(
      `${sizes.out}/latest.json`,
      // Raw payments and latencies stay out: the summaries are the results.
      JSON.stringify(results, (key, value) => (key === "payments" || key === "latencies" ? undefined : value), 2) +
        "\n",
    );
    // Formatted as `deno fmt` would, so `deno task check` stays green after a run.
    await new Deno.Command(Deno.execPath(), {
      args: [
        "fmt",
        "--quiet",
        ...["latest.md", "latest.json", "throughput.svg", "layers.svg", "scale_out.svg"].map((f) =>
          `${sizes.out}/${f}`
        ),
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    log(`wrote ${sizes.out}/latest.md, latest.json, throughput.svg, layers.svg, scale_out.svg`);
  } finally {
    await naive.close();
  }
} finally {
  await stack.close();
}
