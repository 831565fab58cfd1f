/**
 * `POST /v1/payments/:reference/verify`: the owner asks us to confirm their
 * payment now. Settled payments (completed, refunded, failed for a mismatch)
 * answer from the database without touching the lock or the provider, so
 * repeated calls are cheap and harmless. Any other failed payment is asked
 * about again: the customer may have paid after we gave up on it.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Payment, PaymentStore } from "./payment_store.ts";
import type { SettleInput, SettleResult } from "./settle_payment.ts";

/** Dependencies of {@linkcode createVerifyPayment}. */
export interface VerifyPaymentDeps {
  store: PaymentStore;
  settle: (input: SettleInput) => Promise<SettleResult>;
}

/** Builds the use case. */
export function createVerifyPayment(
  { store, settle }: VerifyPaymentDeps,
): (input: { userId: string; reference: string }) => Promise<Payment> {
  return async function verifyPayment({ userId, reference }) {
    const payment = await store.getPayment(userId, reference);
    if (!payment) throw new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
    if (payment.settled) return payment;
    const result = await settle({ reference, actor: "verify" });
    if (result.kind === "locked") {
      throw new AppError("payment_locked", {
        detail: "This payment is being confirmed right now; retry shortly",
        retryAfter: 1,
      });
    }
    return result.payment;
  };
}
