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
 * continues with the same reference.
 *
 * @module
 */
import { AppError, type Problem, toProblem } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { PaymentProvider } from "../providers/payment_provider.ts";
import { ProviderError } from "../providers/payment_provider.ts";
import type { Payment, PaymentStore } from "../store/payment_store.ts";
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

/** The answer to send (first time or replayed). */
export interface InitializePaymentOutput {
  status: number;
  body: unknown;
  replayed: boolean;
}

/** Dependencies of {@linkcode createInitializePayment}. */
export interface InitializePaymentDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  logger: Logger;
  idempotency: { lockTimeoutSeconds: number; retentionHours: number };
  /** Where the provider sends the customer after checkout, if anywhere. */
  callbackUrl?: string | undefined;
}

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

/**
 * Builds the use case.
 *
 * @example
 * ```ts
 * const initialize = createInitializePayment({ store, provider, logger, idempotency });
 * const { status, body, replayed } = await initialize(input);
 * ```
 */
export function createInitializePayment(
  { store, provider, logger, idempotency, callbackUrl }: InitializePaymentDeps,
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
      case "created":
      case "resumed":
        break;
      default: {
        const unreachable: never = begun;
        return unreachable;
      }
    }
    const payment = begun.payment;
    const log = logger.child({ reference: payment.reference, recovery: begun.outcome });

    // Phase 2: the foreign call. The reference is the provider-side guard.
    let authorizationUrl: string;
    let accessCode: string;
    try {
      const result = await provider.initialize({
        reference: payment.reference,
        amount: payment.amount,
        currency: payment.currency,
        email,
        metadata: { ...metadata, payment_id: payment.id },
        ...(callbackUrl ? { callbackUrl } : {}),
      });
      authorizationUrl = result.authorizationUrl;
      accessCode = result.accessCode;
    } catch (error) {
      if (error instanceof ProviderError && error.kind === "rejected") {
        // A definite answer: stored, replayed, and the payment is failed.
        const problem: Problem = toProblem(
          new AppError("provider_rejected", { detail: error.providerMessage ?? "The payment provider refused it" }),
        );
        log.warn("provider refused initialization", { http_status: error.httpStatus });
        const stored = await store.completePaymentRequest({
          userId,
          idempotencyKey,
          responseStatus: problem.status,
          responseBody: problem,
          authorizationUrl: null,
          accessCode: null,
          failureReason: `provider_rejected: ${error.providerMessage ?? "unknown"}`,
        });
        return { status: stored.status, body: stored.body, replayed: false };
      }
      // Unknown outcome: keep the recovery point, let the retry continue.
      await store.releasePaymentRequest(userId, idempotencyKey).catch((releaseError) =>
        log.error("could not release idempotency key; it unlocks after the in-flight timeout", {
          error: releaseError,
        })
      );
      if (error instanceof ProviderError) {
        log.warn("provider unavailable during initialization", { kind: error.kind });
        throw new AppError("provider_unavailable", {
          detail: "The payment provider did not answer; retry with the same Idempotency-Key",
          retryAfter: 2,
          cause: error,
        });
      }
      throw error;
    }

    // Phase 3: store the response and release the key (first completion wins).
    const stored = await store.completePaymentRequest({
      userId,
      idempotencyKey,
      responseStatus: 201,
      responseBody: initializedBody(payment, authorizationUrl),
      authorizationUrl,
      accessCode,
      failureReason: null,
    });
    log.info("payment initialized");
    return { status: stored.status, body: stored.body, replayed: false };
  };
}
