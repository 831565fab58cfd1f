/**
 * Idempotent initialization under load:
 *
 * - replays: `POST /v1/payments` retried with keys already answered (the
 *   stored answer comes back, `Idempotent-Replayed: true`), against
 *   `begin_payment_request` called directly through the driver with the same
 *   arguments (the replay's one transaction) at the same concurrency;
 * - one key, many clients: the same request sent N times at once, as a
 *   client retrying in a panic or a load balancer replaying would. One
 *   payment and one provider transaction must come out of it.
 *
 * @module
 */
import postgres from "postgres";
import type { BenchStack } from "../support/bench_stack.ts";
import { runHttpLoad } from "../support/load_client.ts";
import type { RequestSpec } from "../support/load_protocol.ts";
import { runPool } from "../support/run_pool.ts";
import { percentile, ratio, type RunSummary, summarize } from "../support/stats.ts";

/** The idempotency run. */
export interface IdempotencyResult {
  replay: {
    keys: number;
    requests: number;
    concurrency: number;
    http: RunSummary;
    direct: RunSummary;
    ratio: number;
    /** Answers that were not a replayed 201. */
    notReplayed: number;
  };
  sameKey: {
    requests: number;
    /** First send to last answer, ms. */
    settleMs: number;
    /** Fastest first-time 201, ms. */
    firstCreatedMs: number;
    /** Latency of the 409 answers (the key in use), ms. */
    inUseP50: number;
    inUseP99: number;
    /** "201 created", "201 replayed", "409 idempotency_key_in_use", … */
    answers: Record<string, number>;
    providerInitializeCalls: number;
    paymentsCreated: number;
    /** A retry after the storm is answered with the same reference. */
    laterReplaySameReference: boolean;
  };
}

function _initialize(stack: BenchStack, token: string, key: string): RequestSpec {
  return {
    url: `${stack.url}/v1/payments`,
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify({ amount: 10_000, currency: "NGN" }),
  };
}

/** Runs both parts. */
export async function measureIdempotency(
  stack: BenchStack,
  { keys, rounds, concurrency, sameKey, deadlineMs, log }: {
    keys: number;
    rounds: number;
    concurrency: number;
    sameKey: number;
    deadlineMs: number;
    log: (line: string) => void;
  },
): Promise<IdempotencyResult> {
  // First requests (not timed): one user and one key each.
  const firsts: Array<{ userId: string; key: string; spec: RequestSpec }> = [];
  for (let i = 0; i < keys; i++) {
    const userId = crypto.randomUUID();
    const key = crypto.randomUUID();
    firsts.push({ userId, key, spec: _initialize(stack, await stack.userToken(userId), key) });
  }
  const made = await runHttpLoad(firsts.map((f) => [f.spec]), { concurrency: 8, deadlineMs });
  const failed = made.results.flat().filter((r) => r.status !== 201).length;
  if (failed > 0) throw new Error(`${failed} first initializations failed`);

  const replays = Array.from({ length: rounds }, () => firsts.map((f) => [f.spec])).flat();
  const http = await runHttpLoad(replays, { concurrency, deadlineMs });
  const answers = http.results.flat();
  const notReplayed = answers.filter((r) => r.status !== 201 || !r.replayed).length;
  log(`  replays over HTTP: ${(answers.length / http.wallMs * 1000).toFixed(0)}/s`);

  // The same transaction through the driver: begin_payment_request with the stored fingerprint.
  const stored = await stack.database.db.query<{ user_id: string; key: string; request_fingerprint: string }>(
    "select user_id, key, request_fingerprint from public.idempotency_keys where key = any($1::text[])",
    [firsts.map((f) => f.key)],
  );
  const sql = postgres(stack.database.url, { max: concurrency, onnotice: () => {} });
  let direct: RunSummary;
  try {
    const replay = async (row: (typeof stored)[number]) => {
      const [r] = await sql<{ outcome: string }[]>`
        select public.begin_payment_request(
          p_user_id => ${row.user_id}::uuid, p_idempotency_key => ${row.key},
          p_fingerprint => ${row.request_fingerprint}, p_method => 'POST', p_path => '/v1/payments',
          p_amount => 10000, p_currency => 'NGN', p_email => 'payer@example.test', p_metadata => '{}'::jsonb,
          p_provider => 'paystack', p_lock_timeout_seconds => 60, p_retention_hours => 24) ->> 'outcome' as outcome`;
      if (r?.outcome !== "replay") throw new Error(`begin_payment_request answered ${r?.outcome}`);
    };
    await runPool(stored.slice(0, concurrency), replay, { concurrency }); // warm-up
    const items = Array.from({ length: rounds }, () => stored).flat();
    const run = await runPool(items, replay, { concurrency, deadlineMs });
    if (run.errors > 0) throw new Error(`Direct replays failed: ${run.firstErrors.join("; ")}`);
    direct = run;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const httpSummary = summarize(answers.map((r) => r.ms), http.wallMs, notReplayed);
  log(`  replays direct: ${direct.perSecond.toFixed(0)}/s`);

  // One key, `sameKey` clients at once.
  const owner = crypto.randomUUID();
  const spec = _initialize(stack, await stack.userToken(owner), crypto.randomUUID());
  const sandbox = stack.runtime.sandbox!;
  const before = sandbox.stats.calls.initialize;
  const storm = await runHttpLoad([Array.from({ length: sameKey }, () => spec)], {
    concurrency: 1,
    deadlineMs,
    keepBodies: true,
  });
  const providerInitializeCalls = sandbox.stats.calls.initialize - before;
  const byAnswer: Record<string, number> = {};
  let firstCreatedMs = Infinity;
  const inUse: number[] = [];
  const references = new Set<string>();
  for (const r of storm.results.flat()) {
    let label = String(r.status);
    try {
      const body = JSON.parse(r.body ?? "{}");
      if (r.status === 201) {
        label += r.replayed ? " replayed" : " created";
        references.add(String(body.reference));
        if (!r.replayed) firstCreatedMs = Math.min(firstCreatedMs, r.ms);
      } else if (typeof body.code === "string") label += ` ${body.code}`;
      if (r.status === 409) inUse.push(r.ms);
    } catch {
      label += " (not JSON)";
    }
    byAnswer[label] = (byAnswer[label] ?? 0) + 1;
  }
  const [count] = await stack.database.db.query<{ n: string }>(
    "select count(*) as n from public.payment_logs where user_id = $1",
    [owner],
  );
  const later = await fetch(spec.url, { method: "POST", headers: spec.headers, body: spec.body! });
  const laterBody = await later.json();
  log(`  ${sameKey} identical: ${JSON.stringify(byAnswer)}, provider initialize ×${providerInitializeCalls}`);
  return {
    replay: {
      keys,
      requests: replays.length,
      concurrency,
      http: httpSummary,
      direct,
      ratio: ratio(httpSummary.perSecond, direct.perSecond),
      notReplayed,
    },
    sameKey: {
      requests: sameKey,
      settleMs: storm.wallMs,
      firstCreatedMs,
      inUseP50: percentile(inUse, 50),
      inUseP99: percentile(inUse, 99),
      answers: byAnswer,
      providerInitializeCalls,
      paymentsCreated: Number(count!.n),
      laterReplaySameReference: later.status === 201 && references.size <= 1 &&
        (references.size === 0 || references.has(String(laterBody.reference))),
    },
  };
}
