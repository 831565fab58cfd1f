/**
 * How `POST /v1/payments` answers, rendered for the initialize use case,
 * which stores each answer with the Idempotency-Key and replays it verbatim:
 * the 201 body of a new checkout, or an RFC 9457 problem for a refusal.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { InitializeRefusal, InitializeResponses, StoredResponse } from "../payments/initialize_payment.ts";
import type { Payment } from "../payments/payment.ts";
import { toProblem } from "./problem.ts";

/** The 201 body of a new payment. */
export function initializedBody(payment: Payment, authorizationUrl: string): Record<string, unknown> {
  return {
    reference: payment.reference,
    state: payment.state,
    amount: payment.amount,
    currency: payment.currency,
    provider: payment.provider,
    authorization_url: authorizationUrl,
    created_at: payment.created_at,
  };
}

function _refusalError(refusal: InitializeRefusal): AppError {
  switch (refusal.reason) {
    case "provider_rejected":
      return new AppError("provider_rejected", {
        detail: refusal.providerMessage ?? "The payment provider refused it",
      });
    case "not_payable":
      return new AppError("payment_not_payable", {
        detail: `Payment ${refusal.payment.reference} is ${refusal.payment.state} and can no longer be paid; ` +
          "start a new payment with a new Idempotency-Key",
      });
    default: {
      const unreachable: never = refusal;
      return unreachable;
    }
  }
}

/** The renderer the use case stores its answers with. */
export const initializeResponses: InitializeResponses = {
  created: (payment, authorizationUrl): StoredResponse => ({
    status: 201,
    body: initializedBody(payment, authorizationUrl),
  }),
  refused: (refusal): StoredResponse => {
    const problem = toProblem(_refusalError(refusal));
    return { status: problem.status, body: problem };
  },
};
