/**
 * `POST /v1/payments/:reference/verify`: the owner asks us to confirm their
 * payment now. Under the payment's lock, one RPC (`mark_processing` with the
 * owner) refuses someone else's payment, answers a settled one (completed,
 * refunded, failed for a mismatch) as it is — never asking the provider, so
 * repeated calls are cheap and harmless — and marks the rest processing
 * before the provider is asked. Any other failed payment is asked about
 * again: the customer may have paid after we gave up on it.
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
  const notFound = (reference: string) =>
    new AppError("payment_not_found", { detail: `No payment with reference ${reference}` });
  return async function verifyPayment({ userId, reference }) {
    // One RPC under the lock answers ownership, settledness and marks the
    // payment processing: verify costs 2 RPCs when it credits, 1 otherwise.
    const result = await settle({ reference, actor: "verify", ownerId: userId });
    switch (result.kind) {
      case "done":
        return result.payment;
      case "not_found":
        throw notFound(reference);
      case "locked": {
        // Rare: someone else holds the payment. Tell a stranger nothing more than 404.
        const payment = await store.getPayment(userId, reference);
        if (!payment) throw notFound(reference);
        if (payment.settled) return payment;
        throw new AppError("payment_locked", {
          detail: "This payment is being confirmed right now; retry shortly",
          retryAfter: 1,
        });
      }
      default: {
        const unreachable: never = result;
        return unreachable;
      }
    }
  };
}
