/**
 * The second half of the credit path (DESIGN §6 steps 3–4), shared by verify,
 * webhook and reconciliation: ask the provider for the truth, then settle in
 * one RPC. `credit_user` does the money work in SQL under row locks, so
 * running this twice (two holders, a stale holder, no lock at all) can never
 * credit twice.
 *
 * Paid means credited: a success is credited whatever our state says (a
 * failed payment becomes a late success in SQL), and a payment is failed
 * only on the provider's final word — never while it still reports a
 * non-final status (`ongoing`, `pending`, `processing`, `queued`).
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { Clock } from "../observability/clock.ts";
import { type PaymentProvider, ProviderError, type VerifyResult } from "./payment_provider.ts";
import type { CreditOutcome, Payment, PaymentStore } from "./payment_store.ts";
import { transitionsMadeBy } from "./payment_transitions.ts";

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
  /**
   * The provider reference to ask about: a webhook's own (it may name an
   * earlier attempt). @default the payment's current `provider_reference`
   */
  providerReference?: string;
  /** The webhook event to mark processed in the settling transaction. */
  webhookEventId?: string | null;
  /** Fail a payment the provider has no paid transaction for once it is this old; null = never. */
  abandonAfterMs?: number | null;
}

/**
 * The amount the customer paid for, to compare with what we asked. With fees
 * passed to the customer the provider's `amount` includes them and
 * `requestedAmount` is what was asked; a charge below what was asked is
 * passed through as is, so the comparison in SQL fails it as a mismatch.
 */
function amountPaidFor(verified: VerifyResult): number {
  return verified.amount >= verified.requestedAmount ? verified.requestedAmount : verified.amount;
}

/** Builds the confirm step. */
export function createConfirmWithProvider(
  { store, provider, logger, metrics, clock }: ConfirmDeps,
): (input: ConfirmInput) => Promise<ConfirmResult> {
  return async function confirmWithProvider(
    {
      payment,
      fence,
      actor,
      providerReference = payment.provider_reference,
      webhookEventId = null,
      abandonAfterMs = null,
    },
  ) {
    const reference = payment.reference;
    // Money events name the payment, its owner (by id only) and the provider's reference, for correlation.
    const log = logger.child({ reference, actor, user_id: payment.user_id, provider_reference: providerReference });
    /** Counts the transitions this call made and returns them as `failed→processing→completed`. */
    const transitions = (after: Payment): string | undefined => {
      const made = transitionsMadeBy(after, actor);
      for (const t of made) metrics.inc("payment_transitions_total", { from: t.from ?? "none", to: t.to, actor });
      return made.length > 0 ? [made[0]!.from ?? "none", ...made.map((t) => t.to)].join("→") : undefined;
    };
    const age = clock.now() - Date.parse(payment.created_at);
    const abandoned = abandonAfterMs !== null && age >= abandonAfterMs;
    const fail = async (reason: string, providerPayload: unknown): Promise<ConfirmResult> => {
      const failed = await store.failPayment({ reference, reason, providerPayload, fence, actor, webhookEventId });
      if (failed.changed) {
        metrics.inc("payments_failed_total", { actor });
        log.info("payment failed", { reason, outcome: "failed", transition: transitions(failed.payment) });
      }
      return { payment: failed.payment, outcome: failed.changed ? "failed" : "unchanged" };
    };

    let verified: VerifyResult;
    try {
      verified = await provider.verify(providerReference);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === "not_found") {
        if (abandoned) return await fail("abandoned: the provider has no transaction for this reference", null);
        return { payment, outcome: "unchanged" };
      }
      if (error instanceof ProviderError && error.kind === "unauthorized") {
        log.error("provider refused our credentials: check the secret key", { http_status: error.httpStatus });
      } else {
        log.warn("provider verify failed", { error });
      }
      throw new AppError("provider_unavailable", {
        detail: "Could not confirm the payment with the provider; retry later",
        retryAfter: 5,
        cause: error,
      });
    }
    if (verified.reference !== providerReference) {
      log.error("provider answered for another reference", { provider_reference: verified.reference });
      throw new AppError("provider_error", { detail: "The provider answered for another payment" });
    }

    const status = verified.status;
    switch (status) {
      case "success": {
        const amount = amountPaidFor(verified);
        const credit = await store.creditUser({
          reference,
          amount,
          currency: verified.currency,
          providerPayload: verified.raw,
          fence,
          actor,
          reason: "provider confirmed success",
          webhookEventId,
        });
        metrics.inc("payments_credit_attempts_total", { actor, outcome: credit.outcome });
        const event = {
          outcome: credit.outcome,
          ...(credit.outcome === "credited" || credit.outcome === "mismatch"
            ? { transition: transitions(credit.payment) }
            : {}),
        };
        if (credit.outcome === "mismatch") {
          // Loud on purpose: either a tampered checkout or a provider bug.
          log.error("AMOUNT MISMATCH: payment not credited", {
            ...event,
            expected_amount: payment.amount,
            expected_currency: payment.currency,
            provider_amount: amount,
            provider_currency: verified.currency,
          });
        } else if (credit.outcome === "not_creditable") {
          log.error("provider success for a payment failed for a mismatch: not credited", {
            ...event,
            provider_amount: amount,
            provider_currency: verified.currency,
          });
        }
        if (credit.credited) {
          metrics.inc("ledger_credits_total", { currency: verified.currency });
          metrics.inc("ledger_credited_minor_units_total", { currency: verified.currency }, amount);
        }
        if (credit.late_success) {
          metrics.inc("payments_late_success_total", { actor });
          log.warn("late success credited: the provider took the money after we had failed the payment", {
            ...event,
            amount,
            currency: verified.currency,
            failure_reason: payment.failure_reason,
          });
        } else if (credit.credited) {
          log.info("payment credited", { ...event, amount, currency: verified.currency });
        } else if (credit.outcome === "already_credited") {
          log.info("payment already credited", event);
        }
        return { payment: credit.payment, outcome: credit.outcome };
      }
      case "failed":
      case "reversed":
        // Final for this attempt; a later success on the same checkout is a late success.
        return await fail(
          `provider_status: ${status} (${verified.gatewayResponse ?? "no reason"})`,
          verified.raw,
        );
      case "abandoned":
        if (abandoned) return await fail("abandoned: the customer never completed the checkout", verified.raw);
        return { payment, outcome: "unchanged" };
      case "ongoing":
      case "pending":
      case "processing":
      case "queued":
        // Not final: the money may still arrive. Never fail it; reconciliation asks again.
        if (abandoned) log.warn("payment still not final at the provider past the abandonment age", { status });
        return { payment, outcome: "unchanged" };
      default: {
        const unreachable: never = status;
        return unreachable;
      }
    }
  };
}
