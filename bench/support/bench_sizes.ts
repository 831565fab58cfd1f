/**
 * How big each part of the benchmark is, from the environment (the
 * benchmark's entry point is the only reader). `BENCH_SMOKE=1` shrinks every
 * size to a quick check that the code runs.
 *
 * @module
 */

/** Every size and bound of a run. */
export interface BenchSizes {
  /** Payments settled per concurrency level and path (HTTP, direct, naive). `BENCH_M` */
  m: number;
  /** Concurrency levels of the throughput run. `BENCH_CONCURRENCY` */
  concurrency: number[];
  /** Rounds the throughput run is split into (paths alternate within each). `BENCH_ROUNDS` */
  rounds: number;
  /** Payments per layer and level of the layer profile. `BENCH_LADDER_M` */
  ladderM: number;
  /** Concurrency levels of the layer profile. `BENCH_LADDER_CONCURRENCY` */
  ladderConcurrency: number[];
  /** Rounds of the layer profile (order reversed every other round). `BENCH_LADDER_ROUNDS` */
  ladderRounds: number;
  /** Payments in the racing storm (each side). `BENCH_STORM_PAYMENTS` */
  stormPayments: number;
  /** Webhook deliveries per payment in the storm. `BENCH_STORM_WEBHOOKS` */
  stormWebhooks: number;
  /** Owner verifies per payment in the storm. `BENCH_STORM_VERIFIES` */
  stormVerifies: number;
  /** Payments racing at a time in the storm. `BENCH_STORM_IN_FLIGHT` */
  stormInFlight: number;
  /** Payments of the one hot wallet, per concurrency level and path. `BENCH_HOT_PAYMENTS` */
  hotPayments: number;
  /** Concurrency levels of the hot-wallet run. `BENCH_HOT_CONCURRENCY` */
  hotConcurrency: number[];
  /** Keys replayed. `BENCH_REPLAY_KEYS` */
  replayKeys: number;
  /** Replays per key. `BENCH_REPLAY_ROUNDS` */
  replayRounds: number;
  /** Concurrency of the replay run. `BENCH_REPLAY_CONCURRENCY` */
  replayConcurrency: number;
  /** Identical initializations sent at once. `BENCH_SAME_KEY` */
  sameKey: number;
  /** Starts of each kind of service process (start-up section). `BENCH_STARTUP_RUNS` */
  startupRuns: number;
  /** Embedded-mode first starts (each on an empty folder; slow). `BENCH_STARTUP_FIRST_RUNS` */
  startupFirstRuns: number;
  /** Service processes of the scale-out section. `BENCH_SCALE_INSTANCES` */
  scaleInstances: number[];
  /** Payments per instance count (split over the rounds). `BENCH_SCALE_M` */
  scaleM: number;
  /** Rounds of the scale-out section (order reversed every other round). `BENCH_SCALE_ROUNDS` */
  scaleRounds: number;
  /** Webhooks in flight, spread over the instances. `BENCH_SCALE_CONCURRENCY` */
  scaleConcurrency: number;
  /** Connections of the pool the RPC gateway and the sandbox share. `BENCH_POOL` */
  pool: number;
  /** No load loop starts new work after this many seconds. `BENCH_PHASE_SECONDS` */
  phaseSeconds: number;
  /** Where the report goes. `BENCH_OUT` */
  out: string;
}

function _int(env: Record<string, string | undefined>, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

function _list(env: Record<string, string | undefined>, name: string, fallback: number[]): number[] {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((n) => !Number.isInteger(n) || n < 1 || n > 512)) {
    throw new RangeError(`${name} must be a comma-separated list of integers 1–512, got ${raw}`);
  }
  return values;
}

/** Reads the sizes; `BENCH_SMOKE=1` changes the defaults, explicit variables still win. */
export function benchSizes(env: Record<string, string | undefined>): BenchSizes {
  const smoke = env.BENCH_SMOKE === "1";
  return {
    m: _int(env, "BENCH_M", smoke ? 16 : 300),
    concurrency: _list(env, "BENCH_CONCURRENCY", [1, 8, 32]),
    rounds: _int(env, "BENCH_ROUNDS", smoke ? 1 : 3),
    ladderM: _int(env, "BENCH_LADDER_M", smoke ? 16 : 150),
    ladderConcurrency: _list(env, "BENCH_LADDER_CONCURRENCY", [1, 8]),
    ladderRounds: _int(env, "BENCH_LADDER_ROUNDS", smoke ? 1 : 2),
    stormPayments: _int(env, "BENCH_STORM_PAYMENTS", smoke ? 16 : 200),
    stormWebhooks: _int(env, "BENCH_STORM_WEBHOOKS", 3),
    stormVerifies: _int(env, "BENCH_STORM_VERIFIES", 2, 0),
    stormInFlight: _int(env, "BENCH_STORM_IN_FLIGHT", 8),
    hotPayments: _int(env, "BENCH_HOT_PAYMENTS", smoke ? 16 : 200),
    hotConcurrency: _list(env, "BENCH_HOT_CONCURRENCY", [8, 32]),
    replayKeys: _int(env, "BENCH_REPLAY_KEYS", smoke ? 10 : 200),
    replayRounds: _int(env, "BENCH_REPLAY_ROUNDS", smoke ? 2 : 5),
    replayConcurrency: _int(env, "BENCH_REPLAY_CONCURRENCY", 8),
    sameKey: _int(env, "BENCH_SAME_KEY", smoke ? 50 : 500),
    startupRuns: _int(env, "BENCH_STARTUP_RUNS", smoke ? 1 : 5),
    startupFirstRuns: _int(env, "BENCH_STARTUP_FIRST_RUNS", smoke ? 1 : 2),
    scaleInstances: _list(env, "BENCH_SCALE_INSTANCES", [1, 2, 4]),
    scaleM: _int(env, "BENCH_SCALE_M", smoke ? 16 : 300),
    scaleRounds: _int(env, "BENCH_SCALE_ROUNDS", smoke ? 1 : 2),
    scaleConcurrency: _int(env, "BENCH_SCALE_CONCURRENCY", smoke ? 8 : 32),
    pool: _int(env, "BENCH_POOL", 10),
    phaseSeconds: _int(env, "BENCH_PHASE_SECONDS", 60),
    out: env.BENCH_OUT ?? "bench/results",
  };
}
