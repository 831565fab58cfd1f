/**
 * Steps of a payment's life as a client and a payer take them, over HTTP:
 * initialize, settle at the sandbox checkout, and forge-or-sign webhooks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import type { TestStack } from "./stack.ts";
import { initializeResponses } from "../../src/http/initialize_responses.ts";
import { createInitializePayment } from "../../src/payments/initialize_payment.ts";
import type { PaymentStore } from "../../src/payments/payment_store.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { expectJson, send } from "./http_helpers.ts";

/** A payment created through `POST /v1/payments`. */
export interface CreatedPayment {
  userId: string;
  token: string;
  reference: string;
  authorizationUrl: string;
  amount: number;
  currency: string;
}

/** Initializes a payment for a (new) user. */
export async function createPayment(
  stack: TestStack,
  { userId = crypto.randomUUID(), amount = 250_000, currency = "NGN" } = {},
): Promise<CreatedPayment> {
  const token = await stack.userToken(userId);
  const res = await send(stack, "POST", "/v1/payments", {
    token,
    body: { amount, currency },
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
  const body = await expectJson(res, 201);
  return {
    userId,
    token,
    reference: String(body.reference),
    authorizationUrl: String(body.authorization_url),
    amount,
    currency,
  };
}

/** Submits the sandbox checkout form: Pay (optionally tampered) or Decline. */
export async function payAtCheckout(
  payment: CreatedPayment,
  outcome: "success" | "failed",
  tamper: { amount?: number; currency?: string } = {},
): Promise<void> {
  const form = new URLSearchParams({ outcome });
  if (tamper.amount !== undefined) form.set("amount", String(tamper.amount));
  if (tamper.currency !== undefined) form.set("currency", tamper.currency);
  const res = await fetch(payment.authorizationUrl, {
    method: "POST",
    body: form,
    headers: { Accept: "application/json" },
  });
  await res.body?.cancel();
  assert.ok(res.status < 300, `checkout answered ${res.status}`);
}

/**
 * Pays at the checkout while the sandbox's own webhook never arrives: every
 * delivery attempt (first try and all retries) fails, and this returns only
 * once the sandbox has given up, so no late retry can race the test.
 */
export async function payWithoutWebhook(stack: TestStack, payment: CreatedPayment): Promise<void> {
  const sandbox = stack.runtime.sandbox!;
  await sandbox.idle();
  sandbox.faults.failWebhooks({ times: 1 + SANDBOX_TEST_RETRIES, status: 500 });
  await payAtCheckout(payment, "success");
  await sandbox.idle();
}

/** Retries in the test stacks' sandbox schedule (see `startTestStack`). */
const SANDBOX_TEST_RETRIES = 3;

/** A `charge.success` event body as Paystack sends it. */
export function chargeSuccessBody(payment: CreatedPayment, id = 1_000_000 + Math.floor(Math.random() * 1e6)): string {
  return JSON.stringify({
    event: "charge.success",
    data: {
      id,
      reference: payment.reference,
      amount: payment.amount,
      currency: payment.currency,
      status: "success",
      paid_at: new Date().toISOString(),
      gateway_response: "Successful",
      channel: "card",
      customer: { email: "payer@example.test" },
    },
  });
}

/** Posts a webhook body with the signature of `secret` (or the given header). */
export async function postWebhook(
  stack: TestStack,
  rawBody: string,
  { secret = stack.config.provider.secretKey, signature }: { secret?: string; signature?: string | null } = {},
): Promise<Response> {
  const header = signature === undefined ? await signPaystackBody(secret, rawBody) : signature;
  return stack.request("/v1/webhooks/paystack", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(header === null ? {} : { "x-paystack-signature": header }) },
    body: rawBody,
  });
}

/** Runs `check_ledger_invariants()` and returns the violations. */
export async function ledgerViolations(stack: TestStack): Promise<unknown[]> {
  return await stack.database.db.query("select * from public.check_ledger_invariants()");
}

/** Ledger credits of a payment. */
export async function creditsOf(stack: TestStack, reference: string): Promise<number> {
  const [row] = await stack.database.db.query<{ n: string }>(
    `select count(*)::int8 as n from sms_transactions t join payment_logs p on p.id = t.payment_log_id
     where p.reference = $1 and t.type = 'credit'`,
    [reference],
  );
  return Number(row!.n);
}

/** A payment row as stored. */
export async function paymentRow(stack: TestStack, reference: string): Promise<Record<string, unknown>> {
  const [row] = await stack.database.db.query(
    `select state::text as state, failure_reason, processing_started_at, processing_completed_at, lock_version,
            state_transitions, last_fence
     from payment_logs where reference = $1`,
    [reference],
  );
  assert.ok(row, `no payment ${reference}`);
  return row;
}

/** The user's balance in `currency` (0 without a wallet). */
export async function balanceOf(stack: TestStack, userId: string, currency = "NGN"): Promise<number> {
  const [row] = await stack.database.db.query<{ balance: string }>(
    "select balance from wallets where user_id = $1 and currency = $2",
    [userId, currency],
  );
  return Number(row?.balance ?? 0);
}

/**
 * Initializes a payment the way the service does, up to and including the
 * provider's answer, then "dies" before phase 3 stores it: the idempotency
 * key stays locked at recovery point `payment_created`, the provider holds a
 * transaction whose checkout nobody saw.
 */
export async function initializeThenCrash(
  stack: TestStack,
  { userId, key, body }: { userId: string; key: string; body: { amount: number; currency: string } },
): Promise<void> {
  const crashing: PaymentStore = {
    ...stack.runtime.store,
    completePaymentRequest: () => Promise.reject(new Error("process killed")),
  };
  const initialize = createInitializePayment({
    store: crashing,
    provider: createPaystackProvider({
      secretKey: stack.config.provider.secretKey,
      baseUrl: stack.config.provider.baseUrl,
    }),
    logger: silentLogger,
    idempotency: stack.config.idempotency,
    responses: initializeResponses,
  });
  await assert.rejects(
    initialize({
      userId,
      tokenEmail: "payer@example.test",
      idempotencyKey: key,
      method: "POST",
      path: "/v1/payments",
      body,
    }),
    /process killed/,
  );
}
