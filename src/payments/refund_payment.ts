/**
 * Refunds (DESIGN §6), in steps ordered so that a crash anywhere leaves a
 * state that a retry or reconciliation completes:
 *
 * 1. `begin_refund` — reserve the amount on the wallet (`held`) and record
 *    the refund, pending. Credit already spent, more than what is left, a
 *    payment not completed: refused here, nothing written.
 * 2. Claim the one provider call (`claim_refund_submission`, in SQL, so it
 *    holds with Redis down). A second attempt first looks the refund up at
 *    the provider by its merchant note `refund:<id>`: the first attempt may
 *    have reached it and died before storing the answer. Only a refund the
 *    provider does not have is sent again.
 * 3. `apply_refund_status` — the provider's word, applied once: processed →
 *    ledger entry and balance debited; failed or refused → reservation
 *    released; anything else → still in flight, finished later by a
 *    `refund.*` webhook or reconciliation, which ask the provider again.
 *
 * No double debit (one ledger entry per refund), no debit without a provider
 * refund (the entry waits for `processed`), no provider refund without a
 * ledger entry (whoever learns it is processed applies it).
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { type PaymentProvider, ProviderError, type RefundResult } from "./payment_provider.ts";
import type { BeginRefundInput, PaymentStore } from "./payment_store.ts";
import { isRefundFinal, type Refund } from "./refund.ts";

/**
 * Everything one refund request needs: what the store records (the request
 * key makes it one refund per request; the same key with another fingerprint
 * is refused as `idempotency_key_reused`) and who asked.
 */
export interface RefundPaymentInput extends BeginRefundInput {
  actor: string;
}

/** What a refund request did. */
export interface RefundPaymentResult {
  refund: Refund;
  /** The request key had made this refund before. */
  replayed: boolean;
}

/** Dependencies of {@linkcode createRefunds}. */
export interface RefundsDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  logger: Logger;
  metrics: Metrics;
  /** A provider call claimed longer ago than this is presumed dead and taken over. @default 60 */
  claimSeconds?: number;
}

/** The refund use cases. */
export interface Refunds {
  /** Requests a refund (idempotent per request key) and drives it as far as the provider allows now. */
  refundPayment(input: RefundPaymentInput): Promise<RefundPaymentResult>;
  /** Moves a refund in flight forward from the provider's answer (retry, reconciliation, webhooks). */
  advanceRefund(refund: Refund, actor: string): Promise<Refund>;
  /**
   * After a signed `refund.*` webhook: reads the refund (or every refund of
   * the transaction, when the event names none) from the provider and
   * applies what it says, recording the event with it.
   */
  refreshFromProvider(
    target: { refundId: string | null; transaction: string | null },
    event: { provider: string; eventKey: string; eventType: string; payload: unknown },
  ): Promise<{ outcome: "refund_updated" | "unknown_refund"; refunds: Refund[] }>;
}

/** The merchant note that finds our refund at the provider again. */
export function refundNote(refundId: string): string {
  return `refund:${refundId}`;
}

/** Our refund id in a provider refund's merchant note, or null. */
export function refundIdFromNote(note: string | null): string | null {
  const match = note ? /^refund:([0-9a-f-]{36})$/i.exec(note) : null;
  return match?.[1] ?? null;
}

/** Builds the use cases. */
export function createRefunds({ store, provider, logger, metrics, claimSeconds = 60 }: RefundsDeps): Refunds {
  const unavailable = (error: unknown, what: string): never => {
    if (error instanceof ProviderError && error.kind === "unauthorized") {
      logger.error("provider refused our credentials: check the secret key", { http_status: error.httpStatus });
    }
    throw new AppError("provider_unavailable", {
      detail: `Could not ${what} with the payment provider; retry later`,
      retryAfter: 5,
      cause: error,
    });
  };

  async function apply(refund: Refund, answer: RefundResult, actor: string): Promise<Refund> {
    const applied = await store.applyRefundStatus({
      refundId: refund.id,
      providerRefundId: answer.refundId,
      status: answer.status,
      providerPayload: answer.raw,
      failureReason: answer.status === "failed" ? "provider_status: failed" : null,
      actor,
      event: null,
    });
    const updated = applied.refund ?? refund;
    if (applied.changed) record(updated, actor);
    return updated;
  }

  function record(refund: Refund, actor: string): void {
    metrics.inc("refunds_total", { state: refund.state, actor });
    const fields = { refund_id: refund.id, reference: refund.payment_reference, state: refund.state, actor };
    if (refund.state === "needs_attention" || refund.state === "failed") logger.warn("refund not paid out", fields);
    else logger.info("refund updated", fields);
  }

  async function submit(refund: Refund, actor: string): Promise<Refund> {
    const claim = await store.claimRefundSubmission(refund.id, claimSeconds);
    if (!claim.claimed || !claim.refund) return claim.refund ?? refund;
    const current = claim.refund;
    const note = refundNote(current.id);
    try {
      if (current.submit_attempts > 1) {
        // An earlier attempt may have reached the provider: never send twice.
        const sent = (await provider.listRefunds({ transaction: current.provider_transaction }))
          .find((r) => r.merchantNote === note);
        if (sent) return await apply(current, sent, actor);
      }
      const answer = await provider.refund({
        transaction: current.provider_transaction,
        amount: current.amount,
        currency: current.currency,
        merchantNote: note,
      });
      return await apply(current, answer, actor);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === "rejected") {
        logger.warn("provider refused the refund", { refund_id: current.id, message: error.providerMessage });
        const applied = await store.applyRefundStatus({
          refundId: current.id,
          providerRefundId: null,
          status: "rejected",
          providerPayload: null,
          failureReason: `provider_rejected: ${error.providerMessage ?? "unknown"}`,
          actor,
          event: null,
        });
        const updated = applied.refund ?? current;
        record(updated, actor);
        return updated;
      }
      if (error instanceof ProviderError) {
        // The refund may exist at the provider; the next attempt (retry or
        // reconciliation) lists the transaction's refunds before sending.
        // After no answer (a timeout, a dropped connection) or a 5xx (a 504
        // from the provider's gateway, say) our request may still be running
        // there and not be listed yet: the claim is kept until it expires
        // (`claimSeconds`, well above the provider call's timeout), so no
        // attempt sends a second refund meanwhile. A 4xx (429, 401) means the
        // provider did not act on it: release at once.
        if (error.httpStatus !== null && error.httpStatus < 500) {
          await store.releaseRefundClaim(current.id).catch((releaseError) =>
            logger.error("could not release a refund claim; it expires on its own", { error: releaseError })
          );
        }
        return unavailable(error, "send the refund");
      }
      throw error;
    }
  }

  async function advanceRefund(refund: Refund, actor: string): Promise<Refund> {
    if (isRefundFinal(refund.state)) return refund;
    if (refund.state === "pending" || refund.provider_refund_id === null) return await submit(refund, actor);
    let answer: RefundResult;
    try {
      answer = await provider.fetchRefund(refund.provider_refund_id);
    } catch (error) {
      return unavailable(error, "check the refund");
    }
    return await apply(refund, answer, actor);
  }

  return {
    async refundPayment(input) {
      const begun = await store.beginRefund({
        reference: input.reference,
        amount: input.amount,
        reason: input.reason,
        requestKey: input.requestKey,
        fingerprint: input.fingerprint,
        refundRequestId: input.refundRequestId,
      });
      const replayed = begun.outcome === "existing";
      if (!replayed) {
        metrics.inc("refunds_total", { state: "pending", actor: input.actor });
        logger.info("refund reserved", {
          refund_id: begun.refund.id,
          reference: input.reference,
          amount: begun.refund.amount,
        });
      }
      // A replay of a refund in flight resumes it (a retry after a crash);
      // one the provider has already answers from the database.
      const refund = begun.refund.state === "pending" ? await advanceRefund(begun.refund, input.actor) : begun.refund;
      return { refund, replayed };
    },

    advanceRefund,

    async refreshFromProvider({ refundId, transaction }, event) {
      // The webhook says something changed; the provider says what. Paystack
      // names the refund only in some events: otherwise every refund of the
      // transaction is read back and applied (applying is idempotent).
      let answers: RefundResult[];
      try {
        if (refundId !== null) answers = [await provider.fetchRefund(refundId)];
        else if (transaction !== null) answers = await provider.listRefunds({ transaction });
        else answers = [];
      } catch (error) {
        if (!(error instanceof ProviderError && error.kind === "not_found")) {
          return unavailable(error, "check the refund");
        }
        answers = [];
      }
      let outcome: "refund_updated" | "unknown_refund" = "unknown_refund";
      const updated: Refund[] = [];
      if (answers.length === 0) {
        // Nothing the provider shows: kept as evidence (outcome unknown_refund).
        // The id given never names a refund of ours, so no status is guessed
        // for one (a 404 must not move a refund anywhere).
        await store.applyRefundStatus({
          refundId: null,
          providerRefundId: `unknown:${refundId ?? transaction ?? "none"}`,
          status: "pending",
          providerPayload: null,
          failureReason: null,
          actor: "webhook",
          event,
        });
        logger.warn("webhook for a refund the provider does not show", { refund_id: refundId, transaction });
      }
      for (const [index, answer] of answers.entries()) {
        const applied = await store.applyRefundStatus({
          refundId: refundIdFromNote(answer.merchantNote),
          providerRefundId: answer.refundId,
          status: answer.status,
          providerPayload: answer.raw,
          failureReason: answer.status === "failed" ? "provider_status: failed" : null,
          actor: "webhook",
          // The event is recorded with the last one: marked processed only
          // once every refund it announced is applied.
          event: index === answers.length - 1 ? event : null,
        });
        if (applied.refund) {
          outcome = "refund_updated";
          updated.push(applied.refund);
          if (applied.changed) record(applied.refund, "webhook");
        }
      }
      return { outcome, refunds: updated };
    },
  };
}
