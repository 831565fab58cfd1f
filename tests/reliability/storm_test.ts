/**
 * Item 1 of the reliability suite: a storm of payments through the full
 * HTTP stack (the service on a socket; supabase-js → RPC gateway → Postgres;
 * @upstash/redis → proxy → a Redis of the test's own; the Paystack adapter →
 * the sandbox over HTTP), with bounded concurrency and everything that makes
 * exactly-once hard happening at once:
 *
 * - each `charge.success` delivered 1–5 times (the sandbox's real signed
 *   bodies), concurrently and out of order, racing the owners' verify calls
 *   and reconciliation passes (both scopes) fired in the middle;
 * - declined payments, some with a correctly signed `charge.success` that
 *   lies (the provider's verify says failed); tampered checkouts (another
 *   amount); fees passed to the customer; payments the provider reports in
 *   flight for a while; declined-then-paid and abandoned-then-paid (late
 *   successes); abandoned ones never paid;
 * - debits (overdraws and replays among them) and partial refunds mixed in;
 * - Redis flushed, stopped (no lock at all: the database alone serialises)
 *   and started empty again in the middle of it.
 *
 * Afterwards, from the database and the provider's own records: every paid
 * payment credited exactly once, every declined one failed, every balance
 * equal to its ledger and to what the API answered, `check_ledger_invariants()`
 * empty, and no answer a client would read as our fault (no 5xx).
 *
 * CI size: 1,000 payments (`RELIABILITY_SCALE` multiplies); `STORM_SEED`
 * replays the inputs.
 */
import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { ManualClock } from "../support/manual_clock.ts";
import { chargeSuccessBody, type CreatedPayment, payAtCheckout } from "../support/payment_flow.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { DEFAULT_REFUND_SCHEDULE } from "../../src/providers/sandbox/sandbox_paystack.ts";
import type { SqlClient } from "../../src/db/sql_client.ts";
import { auditMoney, auditSummary } from "./support/money_audit.ts";
import { startOwnRedis } from "./support/own_redis.ts";
import { type Dice, dice, pool, reportFigures, sized, suiteSeed } from "./support/scale.ts";
import { findLeaks } from "./support/secret_scan.ts";

type Kind = "paid" | "fees" | "in_flight" | "declined" | "late" | "abandoned_paid" | "abandoned" | "tampered";

/** How often each kind is drawn. */
const KINDS: Record<Kind, number> = {
  paid: 50,
  fees: 5,
  in_flight: 5,
  declined: 12,
  late: 10,
  abandoned_paid: 6,
  abandoned: 4,
  tampered: 8,
};

/** Kinds whose payment the provider ends up holding a success for, for the amount asked. */
const PAID: ReadonlySet<Kind> = new Set(["paid", "fees", "in_flight", "late", "abandoned_paid"]);

interface User {
  id: string;
  token: string;
}

interface Planned {
  kind: Kind;
  user: User;
  amount: number;
  currency: string;
  key: string;
  reference: string;
  authorizationUrl: string;
}

/** The shape the payment-flow helpers take. */
function created(p: Planned): CreatedPayment {
  return {
    userId: p.user.id,
    token: p.user.token,
    reference: p.reference,
    authorizationUrl: p.authorizationUrl,
    amount: p.amount,
    currency: p.currency,
  };
}

/** An answer the storm did not allow. */
interface Unexpected {
  what: string;
  status: number;
  body: string;
}

const name = `storm: ${sized(1_000).toLocaleString("en")} payments through the full HTTP stack, raced, duplicated, ` +
  "faulted — paid means credited once";

Deno.test({
  name,
  ignore: await ignoreWithout(
    ["postgres", "redis-server"],
    name,
    "it races real Postgres sessions and stops a Redis of its own",
  ),
  async fn() {
    const seed = suiteSeed("storm");
    const roll = dice(seed);
    const n = sized(1_000);
    const started = performance.now();
    const redis = await startOwnRedis();
    const clock = new ManualClock();
    let stack: TestStack | undefined;
    let audit: SqlClient | undefined;
    try {
      stack = await startTestStack({
        env: {
          REDIS_URL: redis.url,
          // Every unsettled payment is a candidate at once: passes race the storm.
          RECONCILE_PENDING_AFTER_SECONDS: "0",
          RECONCILE_PROCESSING_AFTER_SECONDS: "0",
          RECONCILE_BATCH_SIZE: "200",
          // Rate limits off: this suite is about exactly-once (the limiter has tests of its own, and a
          // 429 to a webhook is one more delivery the provider retries).
          RATE_LIMIT_INITIALIZE_PER_MINUTE: "0",
          RATE_LIMIT_VERIFY_PER_MINUTE: "0",
          RATE_LIMIT_WEBHOOK_PER_MINUTE: "0",
          // A contended lock is given up on sooner: more webhooks are deferred and
          // more verifies answered 409 payment_locked, which the passes must finish.
          LOCK_WAIT_MS: "200",
          LOCK_REDIS_TIMEOUT_MS: "100",
          // Abandoned checkouts are backdated by two hours below.
          RECONCILE_ABANDON_AFTER_HOURS: "1",
        },
        sandboxRetrySchedule: [20],
        sandboxTimers: clock,
      });
      audit = stack.database.connect({ max: 1, applicationName: "reliability-audit" });
      const result = await runStorm(stack, audit, redis, clock, roll, n);
      const money = await auditMoney(audit);
      const summary = auditSummary(money);
      const leaks = findLeaks(stack.logs, [
        stack.config.provider.secretKey,
        stack.config.auth.jwtSecret ?? "",
        stack.config.dbWebhookSecret,
      ]);
      reportFigures("storm", {
        seed,
        ...result.figures,
        ...summary,
        log_lines: stack.logs.length,
        leaks: leaks.length,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      });
      const at = `seed ${seed} (replay: STORM_SEED=${seed})`;
      for (const [reference, kind] of result.kinds) {
        const p = money.payments.get(reference);
        assert.ok(p, `${at}: ${reference} missing`);
        if (PAID.has(kind)) {
          assert.ok(p.state === "completed" || p.state === "refunded", `${at}: ${kind} ${reference} is ${p.state}`);
          assert.equal(p.credits, 1, `${at}: ${kind} ${reference} has ${p.credits} credits`);
        } else {
          assert.equal(p.state, "failed", `${at}: ${kind} ${reference} is ${p.state} (${p.failureReason})`);
          assert.equal(p.credits, 0, `${at}: ${kind} ${reference} credited`);
          if (kind === "tampered") assert.match(p.failureReason ?? "", /^amount_mismatch:/, at);
        }
      }
      assert.deepEqual(money.lost, [], `${at}: lost`);
      assert.deepEqual(money.double, [], `${at}: credited twice`);
      assert.deepEqual(money.wronglyCredited, [], `${at}: credited without a matching success`);
      assert.deepEqual(money.mismatchNotFailed, [], `${at}: another amount paid, not failed for it`);
      assert.deepEqual(money.walletMismatches, [], `${at}: balances against the ledger`);
      assert.deepEqual(money.invariants, [], `${at}: check_ledger_invariants() ${JSON.stringify(money.invariants)}`);
      assert.equal(money.secondCreditRefused, true, `${at}: a second credit must be refused by the database`);
      assert.equal(money.staleFenceRefused, true, `${at}: a stale fence must be refused by the database`);
      assert.deepEqual(result.balanceDiffs.slice(0, 10), [], `${at}: balances against what the API answered`);
      assert.deepEqual(result.debitDiffs.slice(0, 10), [], `${at}: debits answered 201 against the ledger`);
      assert.deepEqual(result.refundsNotProcessed.slice(0, 10), [], `${at}: refunds answered 201, not processed`);
      assert.ok(result.figures.fence_raises > 0, `${at}: a Redis that lost its fence counter was never repaired`);
      assert.deepEqual(result.unexpected.slice(0, 10), [], `${at}: answers a client must never get`);
      assert.deepEqual(leaks, [], `${at}: secrets, tokens, signatures or e-mails in the logs`);
    } finally {
      await audit?.close();
      await stack?.close();
      await redis.close();
    }
  },
});

interface StormResult {
  kinds: Map<string, Kind>;
  unexpected: Unexpected[];
  balanceDiffs: string[];
  debitDiffs: string[];
  refundsNotProcessed: string[];
  figures: Record<string, number> & { fence_raises: number };
}

async function runStorm(
  stack: TestStack,
  audit: SqlClient,
  redis: Awaited<ReturnType<typeof startOwnRedis>>,
  clock: ManualClock,
  roll: Dice,
  n: number,
): Promise<StormResult> {
  const sandbox = stack.runtime.sandbox!;
  const service = await stack.serviceToken();
  const unexpected: Unexpected[] = [];
  const counts = {
    webhook_deliveries: 0,
    delivery_bursts: 0,
    distinct_events: 0,
    forged_webhooks: 0,
    verifies: 0,
    verify_locked: 0,
    reconcile_passes: 0,
    provider_passes: 0,
    idempotent_replays: 0,
    debits_ok: 0,
    debits_refused: 0,
    debit_replays: 0,
    refunds_ok: 0,
    refunds_refused: 0,
    refund_replays: 0,
    redis_flushes: 0,
    redis_stops: 0,
    reads: 0,
  };
  const phases: Record<string, number> = {};
  let phaseStart = performance.now();
  const phase = (label: string) => {
    phases[`${label}_ms`] = Math.round(performance.now() - phaseStart);
    phaseStart = performance.now();
  };

  /** One request; an answer outside `allowed` is recorded, never thrown, so a storm reports all it saw. */
  const call = async (
    what: string,
    method: string,
    path: string,
    allowed: readonly number[],
    { token, body, headers = {} }: { token?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> => {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    if (!allowed.includes(res.status)) {
      unexpected.push({ what: `${what} ${method} ${path}`, status: res.status, body: text });
    }
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch { /* recorded above if it mattered */ }
    return { status: res.status, json, headers: res.headers };
  };

  // --- users and payments --------------------------------------------------------------------------------------
  const users: User[] = [];
  for (let i = 0; i < Math.max(2, Math.round(n / 2.5)); i++) {
    const id = crypto.randomUUID();
    users.push({ id, token: await stack.userToken(id) });
  }
  let inFlight = 0;
  const plans = Array.from({ length: n }, () => {
    const currency = roll.weighted({ NGN: 60, GHS: 25, USD: 15 });
    let kind = roll.weighted(KINDS);
    // The sandbox keeps at most 100 verify_status rules, and these wait for the storm's verifies.
    if (kind === "in_flight" && ++inFlight > 90) kind = "paid";
    return {
      kind,
      user: roll.pick(users),
      amount: roll.int(1_000, 900_000),
      currency,
      key: crypto.randomUUID(),
      twice: roll.chance(0.05),
    };
  });
  const payments: Planned[] = [];
  await pool(plans, 32, async (plan) => {
    const body = JSON.stringify({ amount: plan.amount, currency: plan.currency });
    const initialize = () =>
      call("initialize", "POST", "/v1/payments", [201, 409], {
        token: plan.user.token,
        body,
        headers: { "Idempotency-Key": plan.key },
      });
    const answers = await Promise.all(plan.twice ? [initialize(), initialize()] : [initialize()]);
    let created = answers.find((a) => a.status === 201);
    // A concurrent twin still running answers 409 idempotency_key_in_use: retry, bounded.
    for (let attempt = 0; !created && attempt < 50; attempt++) {
      const again = await initialize();
      if (again.status === 201) created = again;
      if (again.headers.get("idempotent-replayed") === "true") counts.idempotent_replays++;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(created, `initialize never answered 201 for key ${plan.key}`);
    const references = new Set(answers.filter((a) => a.status === 201).map((a) => String(a.json.reference)));
    assert.ok(references.size <= 1, `one key, two payments: ${[...references]}`);
    counts.idempotent_replays += answers.filter((a) => a.headers.get("idempotent-replayed") === "true").length;
    if (plan.twice) {
      // The client retries once more after its answer: the same payment, replayed.
      const replay = await initialize();
      if (replay.status !== 201 || replay.json.reference !== created.json.reference) {
        unexpected.push({ what: "initialize replay", status: replay.status, body: JSON.stringify(replay.json) });
      }
      if (replay.headers.get("idempotent-replayed") === "true") counts.idempotent_replays++;
    }
    payments.push({
      ...plan,
      reference: String(created.json.reference),
      authorizationUrl: String(created.json.authorization_url),
    });
  });
  const byKind = (...kinds: Kind[]) => payments.filter((p) => kinds.includes(p.kind));
  // Abandoned checkouts: two hours old, so reconciliation gives up on them (a
  // session of its own without the state guard's trigger: created_at is
  // otherwise immutable, and only these rows are touched).
  await audit.transaction(async (tx) => {
    await tx.query("set local session_replication_role = replica");
    await tx.query(
      "update public.payment_logs set created_at = created_at - interval '2 hours' where reference = any($1::text[])",
      [byKind("abandoned", "abandoned_paid").map((p) => p.reference)],
    );
  });
  phase("initialize");

  // --- checkout --------------------------------------------------------------------------------------------------
  /** The sandbox's own deliveries fail: the storm delivers their exact bodies itself. */
  const dropSandboxWebhooks = () => sandbox.faults.failWebhooks({ times: 10_000, status: 500 });
  const checkout = async (list: Planned[], outcome: (p: Planned) => "success" | "failed" | "tampered") => {
    for (let i = 0; i < list.length; i += 1_000) {
      dropSandboxWebhooks();
      await pool(list.slice(i, i + 1_000), 32, async (p) => {
        if (p.kind === "fees") sandbox.faults.passFeesNext({ reference: p.reference });
        if (p.kind === "in_flight") {
          sandbox.faults.verifyStatusNext({
            status: roll.pick(["pending", "ongoing", "queued"] as const),
            reference: p.reference,
            times: roll.int(1, 3),
          });
        }
        const o = outcome(p);
        if (o === "tampered") await payAtCheckout(created(p), "success", { amount: p.amount + roll.int(1, 500) });
        else await payAtCheckout(created(p), o);
      });
      await sandbox.idle();
    }
  };
  /** The signed body of each reference's `charge.success`, exactly as the sandbox would have sent it. */
  const eventBodies = async (): Promise<Map<string, string>> => {
    const bodies = new Map<string, string>();
    for (const d of await sandbox.stats.deliveries()) if (d.event === "charge.success") bodies.set(d.reference, d.body);
    return bodies;
  };
  await checkout(
    byKind("paid", "fees", "in_flight", "tampered", "declined", "late"),
    (p) => p.kind === "tampered" ? "tampered" : p.kind === "declined" || p.kind === "late" ? "failed" : "success",
  );
  phase("checkout");

  // --- the storm -------------------------------------------------------------------------------------------------
  const secret = stack.config.provider.secretKey;
  const deliver = async (body: string) => {
    counts.webhook_deliveries++;
    await call("webhook", "POST", "/v1/webhooks/paystack", [200], {
      body,
      headers: { "x-paystack-signature": await signPaystackBody(secret, body) },
    });
  };
  const verify = async (p: Planned) => {
    counts.verifies++;
    const answer = await call(`verify ${p.kind}`, "POST", `/v1/payments/${p.reference}/verify`, [200, 409], {
      token: p.user.token,
    });
    if (answer.status === 409) {
      counts.verify_locked++;
      if (answer.json.code !== "payment_locked") {
        unexpected.push({ what: "verify 409", status: 409, body: JSON.stringify(answer.json) });
      }
    }
  };
  const reconcile = async (scope: "payments" | "provider") => {
    counts[scope === "payments" ? "reconcile_passes" : "provider_passes"]++;
    const answer = await call(
      `reconcile ${scope}`,
      "POST",
      `/v1/jobs/reconcile?scope=${scope}${scope === "provider" ? "&since=3h" : ""}`,
      [200],
      { token: service },
    );
    if (scope === "payments" && Number(answer.json.errors ?? 0) > 0) {
      unexpected.push({ what: "reconcile pass with errors", status: answer.status, body: JSON.stringify(answer.json) });
    }
  };
  const read = async (p: Planned) => {
    counts.reads++;
    await call("read", "GET", roll.chance(0.5) ? `/v1/payments/${p.reference}` : "/v1/wallet", [200], {
      token: p.user.token,
    });
  };
  type Action = () => Promise<void>;
  /** Runs `actions` shuffled, 48 at a time; `chaos` run when the storm has gone that far (fractions of it). */
  const storm = async (actions: Action[], chaos: Array<[number, Action]>) => {
    roll.shuffle(actions);
    const marks = chaos.map(([at, act]) => [Math.floor(at * actions.length), act] as const);
    let done = 0;
    await pool(actions.map((action, i) => ({ action, i })), 48, async ({ action }) => {
      const index = done++;
      for (const [at, act] of marks) if (at === index) await act();
      await action();
    });
  };
  /**
   * Each event 1–5 times: half of them all at once (one burst of concurrent deliveries of the same
   * bytes), the other half as separate deliveries shuffled among everything else (out of order).
   */
  const webhookActions = (list: Planned[], bodies: Map<string, string>): Action[] =>
    list.flatMap((p) => {
      const body = bodies.get(p.reference);
      assert.ok(body, `no charge.success for ${p.kind} ${p.reference}`);
      counts.distinct_events++;
      const copies = roll.int(1, 5);
      if (copies > 1 && roll.chance(0.5)) {
        counts.delivery_bursts++;
        return [async () => void await Promise.all(Array.from({ length: copies }, () => deliver(body)))];
      }
      return Array.from({ length: copies }, () => () => deliver(body));
    });
  const verifyActions = (list: Planned[], max: number): Action[] =>
    list.flatMap((p) => Array.from({ length: roll.int(0, max) }, () => () => verify(p)));
  const every = (count: number, action: Action): Action[] => Array.from({ length: count }, () => action);

  let bodies = await eventBodies();
  const phase1: Action[] = [
    ...webhookActions(byKind("paid", "fees", "in_flight", "tampered"), bodies),
    ...verifyActions(payments, 2),
    // Each declined payment is verified at least once (its fence is stored before Redis loses its counter).
    ...byKind("declined", "late").map((p) => () => verify(p)),
    // A correctly signed charge.success for a declined payment, racing its verifies: the provider's verify
    // has the last word (and a claim deferred behind the lock is finished by reconciliation).
    ...byKind("declined").filter(() => roll.chance(0.4)).map((p) => () => {
      counts.forged_webhooks++;
      return deliver(chargeSuccessBody(created(p), roll.int(9_000_000, 9_999_999)));
    }),
    ...every(Math.max(3, Math.round(n / 100)), () => reconcile("payments")),
    ...every(1, () => reconcile("provider")),
    ...payments.filter(() => roll.chance(0.2)).map((p) => () => read(p)),
  ];
  await storm(phase1, [
    [0.35, async () => {
      counts.redis_flushes++;
      await redis.flush();
    }],
    [0.55, async () => {
      counts.redis_stops++;
      await redis.stop();
    }],
    [0.75, () => redis.start()],
  ]);
  if (!redis.running) await redis.start();
  phase("storm_1");

  // A counter lost once more, then the payment with the highest fence is
  // touched first: the database refuses the low fence and the counter is
  // raised past it (paid means credited, whatever happens to Redis).
  const raisesBefore = fenceRaises(stack);
  await redis.flush();
  counts.redis_flushes++;
  const [highest] = await audit.query<{ reference: string }>(
    `select reference from public.payment_logs where reference = any($1::text[]) and last_fence is not null
      order by last_fence desc limit 1`,
    [byKind("late").map((p) => p.reference)],
  );
  if (highest) await verify(byKind("late").find((p) => p.reference === highest.reference)!);

  // --- late successes: declined then paid, abandoned then paid ---------------------------------------------------
  for (let pass = 0; pass < 5 + Math.ceil(n / 200); pass++) {
    const [row] = await audit.query<{ n: string }>(
      "select count(*)::int8 as n from public.payment_logs where reference = any($1::text[]) and state <> 'failed'",
      [byKind("abandoned", "abandoned_paid", "late", "declined").map((p) => p.reference)],
    );
    if (Number(row!.n) === 0) break;
    await stack.runtime.useCases.reconcile();
    await pool(byKind("late", "declined"), 8, (p) => verify(p));
  }
  await checkout(byKind("late", "abandoned_paid"), () => "success");
  bodies = await eventBodies();

  // --- debits and refunds, mixed into the second storm -----------------------------------------------------------
  const settledRows = await audit.query<{ reference: string }>(
    "select reference from public.payment_logs where state = 'completed' and reference = any($1::text[])",
    [byKind("paid", "fees").map((p) => p.reference)],
  );
  const completed = new Set(settledRows.map((r) => r.reference));
  const creditedTotal = (user: User, currency: string) =>
    payments.filter((p) => p.user === user && p.currency === currency && PAID.has(p.kind))
      .reduce((sum, p) => sum + p.amount, 0);
  const debitIds = new Map<string, Set<string>>(); // user/currency → debit ids answered 201
  const debitAmounts = new Map<string, number>();
  const debit = async (user: User, currency: string, amount: number, key: string, overdraw: boolean) => {
    const answer = await call(
      overdraw ? "overdraw" : "debit",
      "POST",
      "/v1/wallet/debits",
      overdraw ? [409] : [201, 409],
      {
        token: service,
        body: JSON.stringify({ user_id: user.id, amount, currency, reason: "sms batch" }),
        headers: { "Idempotency-Key": key },
      },
    );
    if (answer.status === 201) {
      const id = String(answer.json.id);
      const slot = `${user.id}/${currency}`;
      const ids = debitIds.get(slot) ?? new Set();
      if (answer.headers.get("idempotent-replayed") === "true") counts.debit_replays++;
      else counts.debits_ok++;
      if (!ids.has(id)) debitAmounts.set(slot, (debitAmounts.get(slot) ?? 0) + amount);
      ids.add(id);
      debitIds.set(slot, ids);
    } else {
      counts.debits_refused++;
      if (answer.json.code !== "insufficient_balance") {
        unexpected.push({ what: "debit 409", status: 409, body: JSON.stringify(answer.json) });
      }
    }
  };
  const debitActions: Action[] = [];
  for (const user of users) {
    for (const currency of ["NGN", "GHS", "USD"]) {
      const total = creditedTotal(user, currency);
      if (total === 0 || !roll.chance(0.4)) continue;
      const amount = roll.int(1, Math.max(1, Math.floor(total * 0.4)));
      const key = crypto.randomUUID();
      debitActions.push(() => debit(user, currency, amount, key, false));
      if (roll.chance(0.2)) debitActions.push(() => debit(user, currency, amount, key, false)); // a replay
      if (roll.chance(0.2)) debitActions.push(() => debit(user, currency, total + 1, crypto.randomUUID(), true));
    }
  }
  const refundIds = new Set<string>();
  const refund = async (p: Planned, amount: number, key: string) => {
    const answer = await call("refund", "POST", `/v1/payments/${p.reference}/refunds`, [201, 409], {
      token: service,
      body: JSON.stringify({ amount, reason: "partial refund" }),
      headers: { "Idempotency-Key": key },
    });
    if (answer.status === 201) {
      if (answer.headers.get("idempotent-replayed") === "true") counts.refund_replays++;
      else counts.refunds_ok++;
      refundIds.add(String(answer.json.id));
    } else {
      counts.refunds_refused++;
      if (answer.json.code !== "insufficient_balance") {
        unexpected.push({ what: "refund 409", status: 409, body: JSON.stringify(answer.json) });
      }
    }
  };
  const refundActions: Action[] = byKind("paid", "fees").filter((p) => completed.has(p.reference) && roll.chance(0.12))
    .flatMap((p) => {
      const amount = Math.max(1, Math.floor(p.amount / roll.int(2, 4)));
      const key = crypto.randomUUID();
      return roll.chance(0.2)
        ? [() => refund(p, amount, key), () => refund(p, amount, key)]
        : [() => refund(p, amount, key)];
    });

  const late = byKind("late", "abandoned_paid");
  await storm([
    ...webhookActions(late, bodies),
    ...verifyActions(late, 2),
    ...debitActions,
    ...refundActions,
    ...every(Math.max(2, Math.round(n / 200)), () => reconcile("payments")),
    ...every(1, () => reconcile("provider")),
    ...payments.filter(() => roll.chance(0.1)).map((p) => () => read(p)),
  ], []);
  phase("storm_2");

  // --- recovery: the provider's webhooks flow again, the passes finish what is left ----------------------------------
  sandbox.faults.reset();
  await sandbox.idle();
  for (let pass = 0; pass < 5 + Math.ceil(n / 200); pass++) {
    const summary = await stack.runtime.useCases.reconcile();
    if (summary.examined === 0) break;
  }
  const provider = await stack.runtime.useCases.reconcileProvider({ sinceMs: 3 * 3_600_000 });
  // Refunds move at the provider (pending → processing → processed), each step a refund.* webhook.
  await clock.advance(DEFAULT_REFUND_SCHEDULE.pendingMs);
  await sandbox.idle();
  await clock.advance(DEFAULT_REFUND_SCHEDULE.processingMs);
  await sandbox.idle();
  phase("recovery");

  // --- what the API answered, against the ledger -----------------------------------------------------------------
  const balanceDiffs: string[] = [];
  const debitDiffs: string[] = [];
  const refunded = new Map<string, number>();
  for (
    const row of await audit.query<{ user_id: string; currency: string; total: string }>(
      "select user_id, currency, sum(amount)::int8 as total from public.refunds where state = 'processed' group by 1, 2",
    )
  ) refunded.set(`${row.user_id}/${row.currency}`, Number(row.total));
  const ledgerDebits = new Map<string, number>();
  for (
    const row of await audit.query<{ user_id: string; currency: string; n: string }>(
      "select user_id, currency, count(*)::int8 as n from public.sms_transactions where type = 'debit' group by 1, 2",
    )
  ) ledgerDebits.set(`${row.user_id}/${row.currency}`, Number(row.n));
  const balances = new Map<string, number>();
  for (
    const row of await audit.query<{ user_id: string; currency: string; balance: string }>(
      "select user_id, currency, balance::int8 as balance from public.wallets",
    )
  ) balances.set(`${row.user_id}/${row.currency}`, Number(row.balance));
  for (const user of users) {
    for (const currency of ["NGN", "GHS", "USD"]) {
      const slot = `${user.id}/${currency}`;
      const expected = creditedTotal(user, currency) - (debitAmounts.get(slot) ?? 0) - (refunded.get(slot) ?? 0);
      const actual = balances.get(slot) ?? 0;
      if (expected !== actual) balanceDiffs.push(`${slot}: expected ${expected}, balance ${actual}`);
      const answered = debitIds.get(slot)?.size ?? 0;
      if ((ledgerDebits.get(slot) ?? 0) !== answered) {
        debitDiffs.push(`${slot}: ${answered} debits answered 201, ${ledgerDebits.get(slot) ?? 0} in the ledger`);
      }
    }
  }
  const refundRows = await audit.query<{ id: string; state: string }>(
    "select id::text, state::text from public.refunds where id = any($1::uuid[])",
    [[...refundIds]],
  );
  const refundsNotProcessed = refundRows.filter((r) => r.state !== "processed").map((r) => `${r.id}: ${r.state}`);
  if (refundRows.length !== refundIds.size) refundsNotProcessed.push(`${refundIds.size - refundRows.length} missing`);

  return {
    kinds: new Map(payments.map((p) => [p.reference, p.kind])),
    unexpected,
    balanceDiffs,
    debitDiffs,
    refundsNotProcessed,
    figures: {
      ...Object.fromEntries(Object.keys(KINDS).map((k) => [`kind_${k}`, byKind(k as Kind).length])),
      ...counts,
      duplicate_deliveries: counts.webhook_deliveries - counts.distinct_events - counts.forged_webhooks,
      provider_pass_credited_now: provider.credited_now,
      fence_raises: fenceRaises(stack),
      fence_raises_after_second_flush: fenceRaises(stack) - raisesBefore,
      lock_degraded: stack.runtime.metrics.get("lock_degraded_total"),
      ...phases,
    },
  };
}

/** How often a stale fence made the service raise the lock's counter past the database's highest fence. */
function fenceRaises(stack: TestStack): number {
  return ["verify", "webhook", "reconcile"].reduce(
    (sum, actor) => sum + stack.runtime.metrics.get("lock_fence_raised_total", { actor }),
    0,
  );
}
