/**
 * One user, many payments settled at once: every credit locks the same
 * wallet row, so credits of that user are serialised by Postgres whatever
 * the concurrency. Measured for the service over HTTP, the same functions
 * through the driver, pgbench running them (the database's own figure for
 * one wallet row), and the naive design, whose unlocked read-modify-write of
 * the balance loses credits here even without duplicate deliveries.
 *
 * @module
 */
import type { NaiveAudit, NaiveStack } from "../naive/naive_stack.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import { measurePaths, type PathResult } from "../support/credit_paths.ts";
import { auditLedger, type LedgerAudit } from "../support/ledger_audit.ts";
import { directPath, naivePath, servicePath } from "../support/main_paths.ts";
import { findPgbench, runPgbenchHotWallet } from "../support/pgbench.ts";
import type { RunSummary } from "../support/stats.ts";

/** The hot-wallet run. */
export interface HotWalletResult {
  results: PathResult[];
  /** pgbench per level (null where pgbench is not installed). */
  pgbench: Array<{ concurrency: number; summary: RunSummary } | null>;
  serviceAudits: LedgerAudit[];
  naiveAudits: NaiveAudit[];
}

/** Runs it. */
export async function measureHotWallet(
  stack: BenchStack,
  naive: NaiveStack,
  options: { payments: number; levels: number[]; deadlineMs: number; log: (line: string) => void },
): Promise<HotWalletResult> {
  const results = await measurePaths([directPath(stack), servicePath(stack), naivePath(stack, naive)], {
    levels: options.levels,
    perLevel: options.payments,
    rounds: 1,
    deadlineMs: options.deadlineMs,
    baseline: "direct",
    db: stack.database.db,
    oneOwner: true,
    log: options.log,
  });
  const pgbench = await findPgbench();
  const sample = results.find((r) => r.id === "service")?.payments[0];
  const payload = sample ? JSON.stringify(JSON.parse(sample.webhookBody).data) : "{}";
  const pg: HotWalletResult["pgbench"] = [];
  for (const c of options.levels) {
    if (!pgbench) {
      pg.push(null);
      continue;
    }
    const run = await runPgbenchHotWallet({
      pgbench,
      url: stack.database.url,
      db: stack.database.db,
      clients: c,
      perClient: Math.max(3, Math.ceil(options.payments / c)),
      payload,
      deadlineSeconds: Math.ceil(options.deadlineMs / 1000),
    });
    options.log(`  c=${c} pgbench: ${run.summary.perSecond.toFixed(0)}/s, ${run.credited} credited`);
    pg.push({ concurrency: c, summary: run.summary });
  }
  const at = (id: string) => results.filter((r) => r.id === id);
  return {
    results,
    pgbench: pg,
    serviceAudits: await Promise.all(at("service").map((r) => auditLedger(stack, r.payments))),
    naiveAudits: await Promise.all(at("naive").map((r) => naive.audit(r.payments))),
  };
}
