import assert from "node:assert/strict";
import { seededRandom } from "../support/seeded_random.ts";
import { ignoreWithout } from "../support/services.ts";
import { flushStackRedis, startTestStack } from "../support/stack.ts";
import { send } from "../support/http_helpers.ts";
import {
  chargeSuccessBody,
  type CreatedPayment,
  createPayment,
  creditsOf,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
  postWebhook,
} from "../support/payment_flow.ts";

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

type Outcome = "success" | "failed" | "late";

const STORM =
  "200 payments settled with duplicated, reordered deliveries, late successes and Redis flushes keep every ledger invariant";

Deno.test(
  STORM,
  { ignore: await ignoreWithout(["redis"], STORM, "the storm flushes a real Redis halfway through") },
  async () => {
    const seed = Number(Deno.env.get("STORM_SEED") ?? Date.now() % 1_000_000);
    const random = seededRandom(seed);
    const stack = await startTestStack({ sandboxRetrySchedule: [20] });
    const sandbox = stack.runtime.sandbox!;
    const shuffled = <T>(items: T[]): T[] => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    };
    /** Delivers every thunk, shuffled, 25 at a time; Redis loses everything this stack keeps halfway through. */
    const storm = async (deliveries: Array<() => Promise<Response>>) => {
      const flushAt = Math.floor(deliveries.length / 2);
      let delivered = 0;
      await inBatches(shuffled(deliveries), 25, async (deliver) => {
        if (delivered++ === flushAt) await flushStackRedis(stack);
        const res = await deliver();
        await res.body?.cancel();
        assert.ok(res.status === 200 || res.status === 409, `seed ${seed}: status ${res.status}`);
      });
    };
    try {
      const payments: CreatedPayment[] = [];
      await inBatches(Array.from({ length: 200 }, (_, i) => i), 20, async (i) => {
        payments.push(await createPayment(stack, { amount: 10_000 + i }));
      });
      // The sandbox's own deliveries are dropped: we deliver, duplicated and shuffled.
      sandbox.faults.failWebhooks({ times: 10_000, status: 500 });
      const outcomes = new Map<string, Outcome>();
      await inBatches(payments, 20, async (p) => {
        const roll = random();
        const outcome: Outcome = roll < 0.75 ? "success" : roll < 0.88 ? "failed" : "late";
        outcomes.set(p.reference, outcome);
        await payAtCheckout(p, outcome === "success" ? "success" : "failed");
      });
      const deliveriesFor = (p: CreatedPayment, id: number) => {
        const out: Array<() => Promise<Response>> = [];
        const body = chargeSuccessBody(p, id);
        for (let i = 1 + Math.floor(random() * 3); i > 0; i--) out.push(() => postWebhook(stack, body));
        if (random() < 0.3) {
          out.push(() => send(stack, "POST", `/v1/payments/${p.reference}/verify`, { token: p.token }));
        }
        return out;
      };
      await storm(payments.flatMap((p) => deliveriesFor(p, 500_000 + payments.indexOf(p))));

      // The declined-then-paid customers: their payments are failed by now
      // (verify answers from the provider), then they pay at the same checkout.
      const late = payments.filter((p) => outcomes.get(p.reference) === "late");
      await inBatches(late, 10, async (p) => {
        const res = await send(stack, "POST", `/v1/payments/${p.reference}/verify`, { token: p.token });
        assert.equal(res.status, 200, `seed ${seed}`);
        assert.equal((await res.json()).state, "failed", `seed ${seed}`);
        await payAtCheckout(p, "success");
      });
      await storm(late.flatMap((p) => deliveriesFor(p, 700_000 + payments.indexOf(p))));
      sandbox.faults.reset();
      await sandbox.idle();
      // Anything a contended lock deferred is finished by reconciliation.
      const summary = await stack.runtime.useCases.reconcile();
      assert.equal(summary.errors, 0, `seed ${seed}`);

      for (const p of payments) {
        const outcome = outcomes.get(p.reference)!;
        const row = await paymentRow(stack, p.reference);
        assert.equal(
          row.state,
          outcome === "failed" ? "failed" : "completed",
          `seed ${seed}: ${p.reference} ${outcome}`,
        );
        assert.equal(await creditsOf(stack, p.reference), outcome === "failed" ? 0 : 1, `seed ${seed}: ${p.reference}`);
      }
      assert.ok(late.length > 0, `seed ${seed}: the storm had late successes`);
      assert.deepEqual(await ledgerViolations(stack), [], `seed ${seed}`);

      // From the provider's side: every success it recorded already has its one credit.
      const fromProvider = await stack.runtime.useCases.reconcileProvider();
      const paid = payments.filter((p) => outcomes.get(p.reference) !== "failed").length;
      const { findings, ...counts } = fromProvider;
      assert.deepEqual(findings, [], `seed ${seed}`);
      assert.deepEqual(
        [counts.seen, counts.already_credited, counts.credited_now, counts.errors, counts.complete],
        [paid, paid, 0, 0, true],
        `seed ${seed}: ${JSON.stringify(counts)}`,
      );
    } finally {
      await stack.close();
    }
  },
);
