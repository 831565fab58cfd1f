/**
 * Everything one `deno task bench` run measured, as the report is written
 * from it (and `latest.json` holds it).
 *
 * @module
 */
import type { IdempotencyResult } from "../sections/idempotency.ts";
import type { HotWalletResult } from "../sections/hot_wallet.ts";
import type { StormResult } from "../sections/racing_storm.ts";
import type { RoundTripRow } from "../sections/round_trips.ts";
import type { ScaleOutResult } from "../sections/scale_out.ts";
import type { StartupResult } from "../sections/startup.ts";
import type { ThroughputResult } from "../sections/credit_throughput.ts";
import type { PathResult } from "../support/credit_paths.ts";
import type { SqlCounters } from "../support/counting_sql_client.ts";
import type { BenchSizes } from "../support/bench_sizes.ts";

/** The machine and the software it ran on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  deno: string;
  postgres: string;
  redis: string;
  /** 1-minute load average at the start and at the end (other work on the machine). */
  loadStart: number;
  loadEnd: number;
}

/** A run's results. */
export interface BenchResults {
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  sizes: BenchSizes;
  roundTrips: RoundTripRow[];
  throughput: ThroughputResult;
  layers: { runs: PathResult[]; gatewaySql: SqlCounters; gatewaySqlCredits: number };
  storm: StormResult;
  hotWallet: HotWalletResult;
  idempotency: IdempotencyResult;
  startup: StartupResult;
  scaleOut: ScaleOutResult;
}
