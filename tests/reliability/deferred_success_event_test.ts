/**
 * A `charge.success` deferred because another holder had the payment's lock
 * is finished by reconciliation (open_success_events): handled again as its
 * delivery would be, it closes with the provider's answer — here a decline —
 * so `check_ledger_invariants()` does not report `paid_not_credited` for a
 * payment the provider declined, an alarm no pass would otherwise clear.
 */
import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import {
  chargeSuccessBody,
  createPayment,
  ledgerViolations,
  payAtCheckout,
  postWebhook,
} from "../support/payment_flow.ts";
import { paymentLockKey } from "../../src/payments/run_under_payment_lock.ts";

Deno.test("a success event deferred behind the lock, then declined by the provider, leaves no invariant alarm", async () => {
  const stack = await startTestStack({
    env: { RECONCILE_PENDING_AFTER_SECONDS: "0", RECONCILE_PROCESSING_AFTER_SECONDS: "0", LOCK_WAIT_MS: "0" },
  });
  try {
    const payment = await createPayment(stack);
    await payAtCheckout(payment, "failed"); // declined at the provider; no webhook is sent for a decline
    await stack.runtime.sandbox!.idle();
    // Another instance holds the payment's lock while a charge.success arrives.
    const held = await stack.runtime.locks.acquire(paymentLockKey(payment.reference), { leaseMs: 10_000, waitMs: 0 });
    assert.ok(held);
    const res = await postWebhook(stack, chargeSuccessBody(payment));
    assert.equal((await expectJson<{ outcome: string }>(res, 200)).outcome, "deferred");
    await held.release();
    // Reconciliation (or the owner's verify) asks the provider: declined → failed.
    await stack.runtime.useCases.reconcile();
    const verified = await expectJson<{ state: string }>(
      await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
      200,
    );
    assert.equal(verified.state, "failed");
    await stack.runtime.useCases.reconcile();
    assert.deepEqual(await ledgerViolations(stack), []);
  } finally {
    await stack.close();
  }
});
