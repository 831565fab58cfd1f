/**
 * The storm a payment meets in real life, on both designs: the provider
 * delivers its webhook several times (retries, at-least-once delivery) while
 * the customer's app calls verify, all at once. Each payment's racers are
 * sent together; `inFlight` payments race at a time. Then the books: credits
 * per payment, balances against what was paid.
 *
 * @module
 */
import type { NaiveAudit, NaiveStack } from "../naive/naive_stack.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import { auditLedger, type LedgerAudit } from "../support/ledger_audit.ts";
import { runHttpLoad } from "../support/load_client.ts";
import type { RequestSpec } from "../support/load_protocol.ts";
import { createPaidPayments, type PaidPayment, verifyRequest, webhookRequest } from "../support/payments_fixture.ts";
import { type RunSummary, summarize } from "../support/stats.ts";

/** One side of the storm. */
export interface StormSide {
  /** Payments settled per second of storm (all of them paid). */
  summary: RunSummary;
  /** Answers by status. */
  statuses: Record<string, number>;
}

/** Both sides. */
export interface StormResult {
  payments: number;
  racersPerPayment: string;
  inFlight: number;
  service: StormSide & { audit: LedgerAudit };
  naive: StormSide & { audit: NaiveAudit };
}

function _groups(payments: PaidPayment[], build: (p: PaidPayment) => RequestSpec[]): RequestSpec[][] {
  return payments.map(build);
}

async function _storm(groups: RequestSpec[][], inFlight: number, deadlineMs: number): Promise<StormSide> {
  const reply = await runHttpLoad(groups, { concurrency: inFlight, deadlineMs });
  const statuses: Record<string, number> = {};
  for (const r of reply.results.flat()) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
  // Throughput in payments: a payment is done when all its racers have answered.
  const perPayment = reply.results.filter((g) => g.length > 0).map((g) => Math.max(...g.map((r) => r.ms)));
  return { summary: summarize(perPayment, reply.wallMs), statuses };
}

/** Runs the storm on the service, then on the naive design. */
export async function runRacingStorm(
  stack: BenchStack,
  naive: NaiveStack,
  { payments: count, webhooks, verifies, inFlight, deadlineMs }: {
    payments: number;
    webhooks: number;
    verifies: number;
    inFlight: number;
    deadlineMs: number;
  },
): Promise<StormResult> {
  const racers = (webhook: RequestSpec, verify: RequestSpec) => [
    ...Array.from({ length: webhooks }, () => webhook),
    ...Array.from({ length: verifies }, () => verify),
  ];
  const ours = await createPaidPayments(stack, count);
  const service = await _storm(
    _groups(ours, (p) => racers(webhookRequest(stack, p), verifyRequest(stack, p))),
    inFlight,
    deadlineMs,
  );
  // Whatever a contended lock deferred is finished by its holder; wait for releases in flight.
  await stack.runtime.sandbox?.idle();
  const theirs = await naive.createPaidPayments(count);
  const naiveSide = await _storm(
    _groups(theirs, (p) =>
      racers(
        { ...webhookRequest(stack, p), url: `${naive.url}/v1/webhooks/paystack` },
        { ...verifyRequest(stack, p), url: `${naive.url}/v1/payments/${p.reference}/verify` },
      )),
    inFlight,
    deadlineMs,
  );
  return {
    payments: count,
    racersPerPayment: `${webhooks} webhooks + ${verifies} verifies`,
    inFlight,
    service: { ...service, audit: await auditLedger(stack, ours) },
    naive: { ...naiveSide, audit: await naive.audit(theirs) },
  };
}
