/**
 * The second half of the credit path (DESIGN §6 steps 3–4), shared by verify,
 * webhook and reconciliation: ask the provider for the truth, then settle in
 * one RPC. `credit_user` does the money work in SQL under row locks, so
 * running this twice (two holders, a stale holder, no lock at all) can never
 * credit twice.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { Clock } from "../observability/clock.ts";
import { type PaymentProvider, ProviderError, type VerifyResult } from "../providers/payment_provider.ts";
import type { CreditOutcome, Payment, PaymentStore } from "../store/payment_store.ts";

/** What confirming did. */
export interface ConfirmResult {
  payment: Payment;
  /** `credited`… from credit_user, `failed` when failed now, `unchanged` when the provider has no final answer. */
  outcome: CreditOutcome | "failed" | "unchanged";
}

/** Dependencies of {@linkcode createConfirmWithProvider}. */
export interface ConfirmDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** Arguments of one confirmation. */
export interface ConfirmInput {
  payment: Payment;
  fence: number | null;
  actor: string;
  /** The webhook event to mark processed in the settling transaction. */
  webhookEventId?: string | null;
  /** Fail a payment the provider still has unpaid once it is this old; null = never. */
  abandonAfterMs?: number | null;
}

const UNFINISHED = new Set(["abandoned", "ongoing", "pending", "processing", "queued"]);

/** Builds the confirm step. */
export function createConfirmWithProvider(
  { store, provider, logger, metrics, clock }: ConfirmDeps,
): (input: ConfirmInput) => Promise<ConfirmResult> {
  return async function confirmWithProvider({ payment, fence, actor, webhookEventId = null, abandonAfterMs = null }) {
    const reference = payment.reference;
    const log = logger.child({ reference, actor });
    const age = clock.now() - Date.parse(payment.created_at);
    const abandoned = abandonAfterMs !== null && age >= abandonAfterMs;
    const fail = async (reason: string, providerPayload: unknown): Promise<ConfirmResult> => {
      const failed = await store.failPayment({ reference, reason, providerPayload, fence, actor, webhookEventId });
      metrics.inc("payments_failed_total", { actor });
      log.info("payment failed", { reason, changed: failed.changed });
      return { payment: failed.payment, outcome: failed.changed ? "failed" : "unchanged" };
    };

    let verified: VerifyResult;
    try {
      verified = await provider.verify(reference);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === "not_found") {
        if (abandoned) return await fail("abandoned: the provider has no transaction for this reference", null);
        return { payment, outcome: "unchanged" };
      }
      log.warn("provider verify failed", { error });
      throw new AppError("provider_unavailable", {
        detail: "Could not confirm the payment with the provider; retry later",
        retryAfter: 5,
        cause: error,
      });
    }
    if (verified.reference !== reference) {
      log.error("provider answered for another reference", { provider_reference: verified.reference });
      throw new AppError("provider_error", { detail: "The provider answered for another payment" });
    }

    switch (verified.status) {
      case "success": {
        const credit = await store.creditUser({
          reference,
          amount: verified.amount,
          currency: verified.currency,
          providerPayload: verified.raw,
          fence,
          actor,
          reason: "provider confirmed success",
          webhookEventId,
        });
        metrics.inc("payments_credit_attempts_total", { actor, outcome: credit.outcome });
        if (credit.outcome === "mismatch") {
          // Loud on purpose: either a tampered checkout or a provider bug.
          log.error("AMOUNT MISMATCH: payment not credited", {
            expected_amount: payment.amount,
            expected_currency: payment.currency,
            provider_amount: verified.amount,
            provider_currency: verified.currency,
          });
        } else if (credit.credited) {
          log.info("payment credited", { amount: verified.amount, currency: verified.currency });
        }
        return { payment: credit.payment, outcome: credit.outcome };
      }
      case "failed":
      case "reversed":
        return await fail(
          `provider_status: ${verified.status} (${verified.gatewayResponse ?? "no reason"})`,
          verified.raw,
        );
      default:
        if (UNFINISHED.has(verified.status) && abandoned) {
          return await fail(`abandoned: still ${verified.status} at the provider`, verified.raw);
        }
        return { payment, outcome: "unchanged" };
    }
  };
}
