/**
 * Idempotent payment initialization (DESIGN §6), in Brandur Leach's atomic
 * phases. Each phase is one RPC (one transaction); the provider call sits
 * between them, and the recovery point stored with the key says where a
 * retry resumes:
 *
 * 1. `begin_payment_request` — claim the key; on first use create the payment
 *    (recovery point `payment_created`). A replay answers from here: 1 RPC.
 * 2. provider `initialize` with our reference — a retry reuses the same
 *    reference, so the provider cannot open a second transaction.
 * 3. `complete_payment_request` — store the provider data and the response,
 *    release the key (recovery point `finished`).
 *
 * A definite provider refusal (4xx) is stored and replayed like a success; a
 * provider outage releases the key at `payment_created` so the retry
 * continues with the same reference. Provider answers that are not about
 * this payment are not stored either: a 401/403 is our own configuration
 * error (503, logged at error level, the key released, nothing failed).
 *
 * A crash between the provider's answer and phase 3 loses the checkout, and
 * the provider cannot hand it back (its verify carries no access code): the
 * retry's initialize answers "duplicate reference", and a new provider
 * attempt `<reference>.r<n>` is opened for the same payment instead. Nobody
 * ever saw the lost checkout, so it cannot be paid; webhooks and verify
 * recognise every attempt anyway.
 *
 * A payment that is no longer pending when its key is resumed (reconciliation
 * failed it as abandoned meanwhile) never gets a checkout: the key's stored
 * answer is a 409 `payment_not_payable`.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { InitializeResult, PaymentProvider } from "./payment_provider.ts";
import { ProviderError } from "./payment_provider.ts";
import type { Payment, PaymentStore } from "./payment_store.ts";
import { requestFingerprint } from "./request_fingerprint.ts";

/** The validated body of `POST /v1/payments`. */
export interface InitializePaymentBody {
  amount: number;
  currency: string;
  email?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** Everything one initialization needs. */
export interface InitializePaymentInput {
  userId: string;
  /** Fallback e-mail from the token when the body has none. */
  tokenEmail: string | null;
  idempotencyKey: string;
  method: string;
  path: string;
  body: InitializePaymentBody;
}

/** An answer stored with the Idempotency-Key and replayed verbatim. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** The answer to send (first time or replayed). */
export interface InitializePaymentOutput extends StoredResponse {
  replayed: boolean;
}

/** A definite "no" to this request: stored with the key and replayed like a success. */
export type InitializeRefusal =
  /** The provider refused the payment (a 4xx about it); the payment is failed. */
  | { reason: "provider_rejected"; providerMessage: string | null }
  /** The payment is no longer pending: it never gets a checkout. */
  | { reason: "not_payable"; payment: Payment };

/**
 * How the HTTP layer renders this use case's outcomes. They are rendered
 * before they are stored (a replay must be byte-for-byte the first answer),
 * so the renderer is a dependency; the use case itself knows no HTTP format.
 */
export interface InitializeResponses {
  /** A checkout is ready. */
  created(payment: Payment, authorizationUrl: string): StoredResponse;
  refused(refusal: InitializeRefusal): StoredResponse;
}

/** Dependencies of {@linkcode createInitializePayment}. */
export interface InitializePaymentDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  logger: Logger;
  idempotency: { lockTimeoutSeconds: number; retentionHours: number };
  responses: InitializeResponses;
  /** Where the provider sends the customer after checkout, if anywhere. */
  callbackUrl?: string | undefined;
}

/** Provider transactions one initialization may open (the first, and new attempts after lost checkouts). */
const MAX_PROVIDER_ATTEMPTS = 3;

/**
 * Builds the use case.
 *
 * @example
 * ```ts
 * const initialize = createInitializePayment({ store, provider, logger, idempotency, responses });
 * const { status, body, replayed } = await initialize(input);
 * ```
 */
export function createInitializePayment(
  { store, provider, logger, idempotency, responses, callbackUrl }: InitializePaymentDeps,
): (input: InitializePaymentInput) => Promise<InitializePaymentOutput> {
  return async function initializePayment(input) {
    const { userId, idempotencyKey, body } = input;
    const email = body.email ?? input.tokenEmail;
    if (!email) {
      throw new AppError("validation_failed", {
        detail: "email is required: the token carries none",
        extras: { errors: [{ path: "email", message: "Required" }] },
      });
    }
    const metadata = body.metadata ?? {};
    /** Stores the refusal as this key's answer (first completion wins) and answers it. */
    const refuse = async (
      refusal: InitializeRefusal,
      failureReason: string | null,
    ): Promise<InitializePaymentOutput> => {
      const answer = responses.refused(refusal);
      const stored = await store.completePaymentRequest({
        userId,
        idempotencyKey,
        responseStatus: answer.status,
        responseBody: answer.body,
        authorizationUrl: null,
        accessCode: null,
        failureReason,
      });
      return { status: stored.status, body: stored.body, replayed: false };
    };

    // Phase 1: claim the key (and create the payment on first use).
    const begun = await store.beginPaymentRequest({
      userId,
      idempotencyKey,
      fingerprint: await requestFingerprint(input.method, input.path, body),
      method: input.method,
      path: input.path,
      amount: body.amount,
      currency: body.currency,
      email,
      metadata,
      provider: provider.name,
      lockTimeoutSeconds: idempotency.lockTimeoutSeconds,
      retentionHours: idempotency.retentionHours,
    });
    switch (begun.outcome) {
      case "replay":
        return { status: begun.status, body: begun.body, replayed: true };
      case "in_progress":
        throw new AppError("idempotency_key_in_use", {
          detail: "A request with this Idempotency-Key is still being processed; retry later",
          retryAfter: begun.retryAfterSeconds,
        });
      case "mismatch":
        throw new AppError("idempotency_key_reused", {
          detail: "This Idempotency-Key was already used with a different request body",
        });
      case "not_payable":
        return await refuse({ reason: "not_payable", payment: begun.payment }, null);
      case "created":
      case "resumed":
        break;
      default: {
        const unreachable: never = begun;
        return unreachable;
      }
    }
    let payment = begun.payment;
    const log = logger.child({ reference: payment.reference, recovery: begun.outcome, user_id: userId });

    // Phase 2: the foreign call. The provider reference is the provider-side guard.
    let checkout: InitializeResult;
    try {
      for (let attempt = 1;; attempt++) {
        try {
          checkout = await provider.initialize({
            reference: payment.provider_reference,
            amount: payment.amount,
            currency: payment.currency,
            email,
            metadata: { ...metadata, payment_id: payment.id, payment_reference: payment.reference },
            ...(callbackUrl ? { callbackUrl } : {}),
          });
          break;
        } catch (error) {
          if (!(error instanceof ProviderError && error.kind === "duplicate_reference")) throw error;
          if (attempt >= MAX_PROVIDER_ATTEMPTS) {
            log.error("the provider refused every new attempt reference as a duplicate", { attempts: attempt });
            throw new AppError("provider_error", {
              detail: "The payment provider refused the payment reference; retry later",
              cause: error,
            });
          }
          payment = await store.openProviderAttempt(payment.reference);
          if (payment.state !== "pending") return await refuse({ reason: "not_payable", payment }, null);
          log.warn("checkout lost with a crash: opened a new provider attempt", {
            provider_reference: payment.provider_reference,
          });
        }
      }
    } catch (error) {
      if (error instanceof ProviderError && error.kind === "rejected") {
        // A definite answer: stored, replayed, and the payment is failed.
        log.warn("provider refused initialization", { http_status: error.httpStatus });
        return await refuse(
          { reason: "provider_rejected", providerMessage: error.providerMessage },
          `provider_rejected: ${error.providerMessage ?? "unknown"}`,
        );
      }
      // Unknown outcome, or not this payment's fault: keep the recovery
      // point, let the retry continue.
      await store.releasePaymentRequest(userId, idempotencyKey).catch((releaseError) =>
        log.error("could not release idempotency key; it unlocks after the in-flight timeout", {
          error: releaseError,
        })
      );
      if (error instanceof ProviderError) {
        if (error.kind === "unauthorized") {
          // Our configuration, not the customer's payment: nothing stored or failed.
          log.error("provider refused our credentials: check the secret key", { http_status: error.httpStatus });
        } else {
          log.warn("provider unavailable during initialization", { kind: error.kind });
        }
        throw new AppError("provider_unavailable", {
          detail: "The payment provider cannot take payments right now; retry with the same Idempotency-Key",
          retryAfter: 2,
          cause: error,
        });
      }
      throw error;
    }
    const { authorizationUrl, accessCode } = checkout;

    // Phase 3: store the response and release the key (first completion wins).
    const answer = responses.created(payment, authorizationUrl);
    const stored = await store.completePaymentRequest({
      userId,
      idempotencyKey,
      responseStatus: answer.status,
      responseBody: answer.body,
      authorizationUrl,
      accessCode,
      failureReason: null,
    });
    log.info("payment initialized", {
      outcome: "initialized",
      transition: "none→pending",
      provider_reference: payment.provider_reference,
      amount: payment.amount,
      currency: payment.currency,
    });
    return { status: stored.status, body: stored.body, replayed: false };
  };
}
