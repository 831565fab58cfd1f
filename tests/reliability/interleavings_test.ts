/**
 * Item 3 of the reliability suite: the use cases themselves — verify,
 * webhook, reconciliation, refund — run concurrently against in-memory fakes
 * of their ports (tests/reliability/support/fake_ports.ts) under
 * fast-check's scheduler, which decides the order of every awaited step
 * (each store call, provider call and lock call, both ways), and shrinks a
 * failing interleaving to a minimal one.
 *
 * Each run draws a story for one payment (paid before anyone looks, paid
 * while they look, declined, declined then paid, abandoned for hours then
 * paid or not, paid another amount, still in flight at the provider), the
 * actors racing on it (owner verifies, 0–3 deliveries of its
 * `charge.success`, reconciliation passes, a partial refund and its
 * `refund.processed` webhook), provider outages, and the chaos: a lock lease
 * that ends while its holder is mid-step (another instance takes the lock
 * with a higher fence) and a Redis reset (leases gone, the fence counter
 * back to 0). After the scheduler has run everything, a sweep without chaos
 * (the owner's verify, a reconciliation pass, the provider finishing its
 * refunds) stands for "later", and then:
 *
 * - no use case failed with anything but the answers a client is meant to
 *   get (payment_locked, provider_unavailable, refund refusals);
 * - a payment the provider holds a success for, for the amount asked, is
 *   completed with exactly one credit (a second credit throws in the fake,
 *   as the unique index would); any other is failed with none;
 * - balances equal the ledger, held equals the refunds in flight, a
 *   processed refund has exactly one ledger entry;
 * - every charge.success event of a paid payment ends processed, or its
 *   payment settled.
 *
 * CI size: 3,000 schedules (`RELIABILITY_SCALE` multiplies); the seed is
 * printed and `INTERLEAVINGS_SEED=<n>` replays every schedule bit for bit
 * (fast-check also prints the `path` of a failure's minimal schedule).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { AppError } from "../../src/errors.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createConfirmWithProvider } from "../../src/payments/confirm_with_provider.ts";
import { createHandleProviderEvent } from "../../src/payments/handle_provider_event.ts";
import { createReconcilePayments } from "../../src/payments/reconcile_payments.ts";
import { createRefunds } from "../../src/payments/refund_payment.ts";
import { createRunUnderPaymentLock, paymentLockKey } from "../../src/payments/run_under_payment_lock.ts";
import { createSettlePayment } from "../../src/payments/settle_payment.ts";
import { createVerifyPayment } from "../../src/payments/verify_payment.ts";
import { createFakeLocks, createFakeProvider, createFakeStore, fakeClock, type Gate } from "./support/fake_ports.ts";
import { reportFigures, sized, suiteSeed } from "./support/scale.ts";

type Story =
  | "paid_before"
  | "pays_during"
  | "declined"
  | "declined_then_pays"
  | "abandoned"
  | "abandoned_then_pays"
  | "tampered"
  | "in_flight";

/** Whether the provider ends up holding a success for the amount asked. */
const PAID: ReadonlySet<Story> = new Set([
  "paid_before",
  "pays_during",
  "declined_then_pays",
  "abandoned_then_pays",
  "in_flight",
]);

/** The answers a use case may end with while others race it: a client retries or is told why. */
const EXPECTED_REFUSALS = new Set([
  "payment_locked",
  "provider_unavailable",
  "payment_not_refundable",
  "refund_exceeds_payment",
  "insufficient_balance",
]);

const scenarioArb = fc.record({
  story: fc.constantFrom<Story>(
    "paid_before",
    "pays_during",
    "declined",
    "declined_then_pays",
    "abandoned",
    "abandoned_then_pays",
    "tampered",
    "in_flight",
  ),
  verifies: fc.integer({ min: 0, max: 3 }),
  deliveries: fc.integer({ min: 0, max: 3 }),
  reconciles: fc.integer({ min: 0, max: 2 }),
  refund: fc.boolean(),
  leaseExpiries: fc.integer({ min: 0, max: 2 }),
  redisReset: fc.boolean(),
  outages: fc.integer({ min: 0, max: 2 }),
  inFlight: fc.integer({ min: 1, max: 3 }),
});

Deno.test("interleavings: verify, webhooks, reconciliation and refunds under every schedule fast-check draws", async () => {
  const seed = suiteSeed("interleavings");
  const numRuns = sized(3_000);
  const figures = {
    schedules: 0,
    scheduled_steps: 0,
    credits: 0,
    late_successes: 0,
    stale_fences_refused: 0,
    fence_raises: 0,
    leases_expired_mid_step: 0,
    redis_resets: 0,
    lock_contended: 0,
    refunds_processed: 0,
    refusals: 0,
  };
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), scenarioArb, async (s, scenario) => {
      figures.schedules++;
      const amount = 5_000;
      const reference = `pay-${crypto.randomUUID().replaceAll("-", "")}`;
      const userId = crypto.randomUUID();
      // The scheduler orders every step while the actors race; the sweep afterwards runs them straight.
      let gate: Gate = (label) => {
        figures.scheduled_steps++;
        return s.schedule(Promise.resolve(label), label);
      };
      const gateNow = () => gate;
      const old = scenario.story === "abandoned" || scenario.story === "abandoned_then_pays";
      const world = createFakeStore(gateNow, { reference, userId, amount, ageMs: old ? 2 * 3_600_000 : 60_000 });
      const locks = createFakeLocks(gateNow);
      const psp = createFakeProvider(gateNow, reference, amount);
      const metrics = createMetrics();
      const deps = { store: world.store, logger: silentLogger, metrics };
      const confirm = createConfirmWithProvider({ ...deps, provider: psp.provider, clock: fakeClock });
      const runUnderLock = createRunUnderPaymentLock({ ...deps, locks, lock: { leaseMs: 600_000, waitMs: 0 } });
      const settle = createSettlePayment({ store: world.store, runUnderLock, confirm });
      const refunds = createRefunds({ ...deps, provider: psp.provider });
      const verify = createVerifyPayment({ store: world.store, settle });
      const webhook = createHandleProviderEvent({ ...deps, runUnderLock, confirm, refunds });
      const reconcile = createReconcilePayments({
        ...deps,
        settle,
        refunds,
        handleEvent: webhook,
        handleDatabaseEvent: () => Promise.resolve({ outcome: "ignored" as const }),
        thresholds: {
          pendingAfterSeconds: 0,
          processingAfterSeconds: 0,
          abandonAfterHours: 1,
          batchSize: 10,
          refundPendingAfterSeconds: 0,
          refundInFlightAfterSeconds: 0,
        },
      });

      // --- the story at the provider ------------------------------------------------------------------------------
      const customer: Array<() => void> = [];
      switch (scenario.story) {
        case "paid_before":
          psp.pay();
          break;
        case "in_flight":
          psp.pay();
          psp.inFlight(scenario.inFlight);
          break;
        case "tampered":
          psp.pay(amount + 1);
          break;
        case "declined":
          psp.decline();
          break;
        case "declined_then_pays":
          psp.decline();
          customer.push(() => psp.pay());
          break;
        case "pays_during":
        case "abandoned_then_pays":
          customer.push(() => psp.pay());
          break;
        case "abandoned":
          break;
      }
      psp.unavailable(scenario.outages);

      // --- the actors, all at once ---------------------------------------------------------------------------------
      const tasks: Array<Promise<unknown>> = [];
      const errors: unknown[] = [];
      /** Runs one actor to its end: never rejects; an answer no client is meant to get is recorded. */
      const guarded = (what: string, run: () => Promise<unknown>) =>
        run().catch((error) => {
          if (error instanceof AppError && EXPECTED_REFUSALS.has(error.code)) figures.refusals++;
          else errors.push(`${what}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
        });
      const act = (what: string, run: () => Promise<unknown>) => tasks.push(guarded(what, run));
      const chargeSuccess = {
        provider: "paystack",
        eventKey: `charge.success:4000000001`,
        eventType: "charge.success",
        reference,
        claim: "payment_succeeded" as const,
        refundId: null,
        payload: { event: "charge.success" },
      };
      const paid = PAID.has(scenario.story) || scenario.story === "tampered";
      for (const pay of customer) {
        // The customer pays at a moment the scheduler picks; the provider's webhooks follow.
        act("customer", async () => {
          await gate("customer pays");
          pay();
          await Promise.all(
            Array.from({ length: scenario.deliveries }, () => guarded("webhook", () => webhook(chargeSuccess))),
          );
        });
      }
      if (customer.length === 0 && paid) {
        for (let i = 0; i < scenario.deliveries; i++) act("webhook", () => webhook(chargeSuccess));
      }
      for (let i = 0; i < scenario.verifies; i++) act("verify", () => verify({ userId, reference }));
      for (let i = 0; i < scenario.reconciles; i++) act("reconcile", () => reconcile());
      if (scenario.refund) {
        act("refund", async () => {
          // Staff ask, and ask again while the payment is not refundable yet (at most three times).
          for (let attempt = 1;; attempt++) {
            await gate("staff asks for a refund");
            try {
              await refunds.refundPayment({
                reference,
                amount: amount / 2,
                reason: "partial",
                requestKey: "api:refund-1",
                fingerprint: "fp",
                refundRequestId: null,
                actor: "staff:api",
              });
              break;
            } catch (error) {
              if (!(error instanceof AppError && error.code === "payment_not_refundable") || attempt === 3) throw error;
            }
          }
          await gate("the provider processes the refund");
          psp.settleRefunds();
          await webhook({
            provider: "paystack",
            eventKey: "refund.processed:1",
            eventType: "refund.processed",
            reference,
            claim: "refund_updated",
            refundId: null,
            payload: { event: "refund.processed" },
          });
        });
      }
      for (let i = 0; i < scenario.leaseExpiries; i++) {
        act("lease expiry", async () => {
          await gate("a lease runs out while its holder is paused");
          locks.expire(paymentLockKey(reference));
        });
      }
      if (scenario.redisReset) {
        act("redis reset", async () => {
          await gate("Redis loses everything");
          locks.reset();
        });
      }
      await s.waitFor(Promise.all(tasks));

      // --- later: no chaos, every actor once more, straight ------------------------------------------------------
      gate = () => Promise.resolve();
      psp.calm();
      psp.settleRefunds();
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await verify({ userId, reference });
          break;
        } catch (error) {
          if (!(error instanceof AppError && EXPECTED_REFUSALS.has(error.code))) throw error;
        }
      }
      await reconcile();
      psp.settleRefunds();
      await reconcile();

      // --- the properties ------------------------------------------------------------------------------------------
      const report = () =>
        `${JSON.stringify(scenario)}\nprovider ${JSON.stringify(psp.truth)}, leases held ${locks.held()}, payment ${
          JSON.stringify(world.payments.get(reference))
        }, events ${JSON.stringify([...world.events.values()])}\n${s.report().map((t) => t.label).join(" → ")}`;
      assert.deepEqual(errors, [], `unexpected failures\n${report()}`);
      const payment = world.payments.get(reference)!;
      const credits = world.ledger.filter((e) => e.type === "credit").length;
      if (PAID.has(scenario.story)) {
        assert.ok(["completed", "refunded"].includes(payment.state), `paid, yet ${payment.state}\n${report()}`);
        assert.equal(credits, 1, `paid: ${credits} credits\n${report()}`);
      } else {
        assert.equal(payment.state, "failed", `${scenario.story}, yet ${payment.state}\n${report()}`);
        assert.equal(credits, 0, `${scenario.story}: credited\n${report()}`);
        if (scenario.story === "tampered") assert.match(payment.failure_reason ?? "", /^amount_mismatch:/);
      }
      for (const [key, w] of world.wallets) {
        const ledger = world.ledger.filter((e) => `${e.userId}/${e.currency}` === key)
          .reduce((sum, e) => sum + (e.type === "credit" ? e.amount : -e.amount), 0);
        const inFlight = [...world.refunds.values()].filter((r) =>
          ["pending", "processing", "needs_attention"].includes(r.state)
        ).reduce((sum, r) => sum + r.amount, 0);
        assert.equal(w.balance, ledger, `balance ≠ ledger\n${report()}`);
        assert.equal(w.held, inFlight, `held ≠ refunds in flight\n${report()}`);
        assert.ok(w.balance >= w.held && w.held >= 0, `overdrawn\n${report()}`);
      }
      for (const refund of world.refunds.values()) {
        const entries = world.ledger.filter((e) => e.type === "refund" && e.ref === refund.id).length;
        assert.equal(
          entries,
          refund.state === "processed" ? 1 : 0,
          `refund ${refund.state}: ${entries} entries\n${report()}`,
        );
        assert.equal(refund.state, "processed", `a refund the provider processed is ${refund.state}\n${report()}`);
      }
      assert.equal(
        payment.refunded_amount,
        [...world.refunds.values()].filter((r) => r.state === "processed")
          .reduce((sum, r) => sum + r.amount, 0),
        `refunded_amount\n${report()}`,
      );
      const settled = ["completed", "refunded"].includes(payment.state) ||
        (payment.state === "failed" && payment.failure_reason?.startsWith("amount_mismatch:"));
      for (const event of world.events.values()) {
        if (event.reference === reference && PAID.has(scenario.story)) {
          assert.ok(event.processed || settled, `a success event left open on an unsettled payment\n${report()}`);
        }
      }

      figures.credits += world.counts.credits;
      figures.late_successes += world.counts.lateSuccesses;
      figures.stale_fences_refused += world.counts.staleFences;
      figures.fence_raises += locks.counts.advanced;
      figures.leases_expired_mid_step += locks.counts.expired;
      figures.redis_resets += locks.counts.resets;
      figures.lock_contended += locks.counts.contended;
      figures.refunds_processed += [...world.refunds.values()].filter((r) => r.state === "processed").length;
    }),
    { seed, numRuns, timeout: 10_000 },
  );
  reportFigures("interleavings", { seed, ...figures, seconds: Math.round((performance.now() - started) / 100) / 10 });
  assert.ok(figures.stale_fences_refused > 0 && figures.fence_raises > 0, "no schedule reached a stale fence");
  assert.ok(figures.late_successes > 0 && figures.refunds_processed > 0, "no late success or refund explored");
});
