/**
 * Credit throughput against the database's own limit: M paid payments of
 * distinct users settled through the service over HTTP (as the tests run it,
 * stand-ins in-process; and as production runs it, the service alone on its
 * event loop with the stand-ins on another thread), the same SQL functions
 * called directly through a driver, and the naive design over HTTP, at each
 * concurrency level, side by side in rounds (see
 * `credit_paths.ts`). Afterwards the books are audited: every payment the
 * service was given must be credited exactly once.
 *
 * @module
 */
import type { NaiveAudit, NaiveStack } from "../naive/naive_stack.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import { measurePaths, type PathResult } from "../support/credit_paths.ts";
import { auditLedger, type LedgerAudit } from "../support/ledger_audit.ts";
import { directPath, naivePath, servicePath } from "../support/main_paths.ts";
import { withPeakRss } from "../support/rss_sampler.ts";
import { splitServicePath, startSplitService } from "../split/split_service.ts";

/** The throughput run. */
export interface ThroughputResult {
  results: PathResult[];
  serviceAudit: LedgerAudit;
  /** The split topology's payments (service alone on its thread, stand-ins on another). */
  splitAudit: LedgerAudit;
  naiveAudit: NaiveAudit;
  peakRssMiB: number;
}

/** Runs it. */
export async function measureCreditThroughput(
  stack: BenchStack,
  naive: NaiveStack,
  options: {
    m: number;
    levels: number[];
    rounds: number;
    deadlineMs: number;
    poolSize: number;
    log: (line: string) => void;
  },
): Promise<ThroughputResult> {
  const split = await startSplitService(stack, { poolSize: options.poolSize });
  let measured;
  try {
    measured = await withPeakRss(() =>
      measurePaths([directPath(stack), servicePath(stack), splitServicePath(split), naivePath(stack, naive)], {
        levels: options.levels,
        perLevel: options.m,
        rounds: options.rounds,
        deadlineMs: options.deadlineMs,
        baseline: "direct",
        db: stack.database.db,
        standInsTid: split.standInsTid,
        log: options.log,
      })
    );
  } finally {
    await split.close();
  }
  const { value: results, peakRssMiB } = measured;
  const of = (id: string) => results.filter((r) => r.id === id).flatMap((r) => r.payments);
  return {
    results,
    serviceAudit: await auditLedger(stack, of("service")),
    splitAudit: await auditLedger(stack, of("split")),
    naiveAudit: await naive.audit(of("naive")),
    peakRssMiB,
  };
}
