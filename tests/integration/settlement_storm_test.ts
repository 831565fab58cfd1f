import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { send } from "../support/http_helpers.ts";
import {
  chargeSuccessBody,
  type CreatedPayment,
  createPayment,
  creditsOf,
  ledgerViolations,
  payAtCheckout,
  postWebhook,
} from "../support/payment_flow.ts";

/** A small deterministic PRNG, so a failure can be replayed with its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

Deno.test("200 payments settled with duplicated, reordered deliveries keep every ledger invariant", async () => {
  const seed = Number(Deno.env.get("STORM_SEED") ?? Date.now() % 1_000_000);
  const random = mulberry32(seed);
  const stack = await startTestStack({ sandboxRetrySchedule: [20] });
  const sandbox = stack.runtime.sandbox!;
  try {
    const payments: CreatedPayment[] = [];
    await inBatches(Array.from({ length: 200 }, (_, i) => i), 20, async (i) => {
      payments.push(await createPayment(stack, { amount: 10_000 + i }));
    });
    // The sandbox's own deliveries are dropped: we deliver, duplicated and shuffled.
    sandbox.faults.failWebhooks({ times: 10_000, status: 500 });
    const outcomes = new Map<string, "success" | "failed">();
    await inBatches(payments, 20, async (p) => {
      const outcome = random() < 0.85 ? "success" : "failed";
      outcomes.set(p.reference, outcome);
      await payAtCheckout(p, outcome);
    });
    sandbox.faults.reset();
    const deliveries: Array<() => Promise<Response>> = [];
    for (const p of payments) {
      const copies = 1 + Math.floor(random() * 3);
      const body = chargeSuccessBody(p, 500_000 + payments.indexOf(p));
      for (let i = 0; i < copies; i++) deliveries.push(() => postWebhook(stack, body));
      if (random() < 0.3) {
        deliveries.push(() => send(stack, "POST", `/v1/payments/${p.reference}/verify`, { token: p.token }));
      }
    }
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    await inBatches(deliveries, 25, async (deliver) => {
      const res = await deliver();
      await res.body?.cancel();
      assert.ok(res.status === 200 || res.status === 409, `seed ${seed}: status ${res.status}`);
    });
    await sandbox.idle();
    // Anything a contended lock deferred is finished by reconciliation.
    const summary = await stack.runtime.useCases.reconcile();
    assert.equal(summary.errors, 0, `seed ${seed}`);

    for (const p of payments) {
      const expected = outcomes.get(p.reference) === "success" ? 1 : 0;
      if (outcomes.get(p.reference) === "failed") continue; // webhooks for declined payments credit nothing
      assert.equal(await creditsOf(stack, p.reference), expected, `seed ${seed}: ${p.reference}`);
    }
    const declinedCredited = await stack.database.db.query(
      `select p.reference from payment_logs p join sms_transactions t on t.payment_log_id = p.id
       where p.reference = any($1::text[])`,
      [[...outcomes].filter(([, o]) => o === "failed").map(([r]) => r)],
    );
    assert.deepEqual(declinedCredited, [], `seed ${seed}`);
    assert.deepEqual(await ledgerViolations(stack), [], `seed ${seed}`);
  } finally {
    await stack.close();
  }
});
