/**
 * Payments ready to be settled, made the way clients and payers make them:
 * `POST /v1/payments` (2 RPCs + the provider's initialize), then Pay at the
 * sandbox checkout. The sandbox's own webhook is turned off while paying, so
 * the benchmark delivers the event itself, when it starts the clock. The
 * webhook body is the one the sandbox would have sent (its checkout answers
 * the transaction's data), signed with the merchant key.
 *
 * @module
 */
import { paystackSignature } from "./paystack_hmac.ts";
import type { BenchStack } from "./bench_stack.ts";
import type { RequestSpec } from "./load_protocol.ts";
import { runPool } from "./run_pool.ts";

/** A paid, not yet settled payment. */
export interface PaidPayment {
  userId: string;
  token: string;
  reference: string;
  amount: number;
  currency: string;
  /** The `charge.success` event the sandbox would deliver, as raw bytes. */
  webhookBody: string;
  /** Its `x-paystack-signature`. */
  signature: string;
}

/** Options of {@linkcode createPaidPayments}. */
export interface PaidPaymentOptions {
  /** One owner for all (the hot wallet); a new user per payment when omitted. */
  userId?: string;
  /** Minor units. @default 10_000 */
  amount?: number;
  /** Set-up requests in flight. @default 8 */
  concurrency?: number;
}

/** A service to make payments on: where it listens, its tokens, and its sandbox's webhooks. */
export interface PaymentTarget {
  /** Base URL of the service. */
  url: string;
  userToken(userId: string): Promise<string>;
  /** The merchant secret webhooks are signed with. */
  paystackSecret: string;
  /** Runs `pay` with the sandbox's own webhook deliveries turned off (`count` checkouts). */
  withoutWebhooks<T>(count: number, pay: () => Promise<T>): Promise<T>;
}

/** The in-process stack as a {@linkcode PaymentTarget}. */
export function stackTarget(stack: BenchStack): PaymentTarget {
  return {
    url: stack.url,
    userToken: (userId) => stack.userToken(userId),
    paystackSecret: stack.config.provider.secretKey,
    async withoutWebhooks(count, pay) {
      const sandbox = stack.runtime.sandbox!;
      sandbox.faults.failWebhooks({ times: Math.min(count, 10_000), status: 500 });
      try {
        return await pay();
      } finally {
        sandbox.faults.reset();
        await sandbox.idle();
      }
    },
  };
}

/**
 * Initializes and pays `count` payments on `target` (a {@linkcode BenchStack}
 * or any {@linkcode PaymentTarget}). Throws on any unexpected answer: a
 * benchmark on a broken set-up measures nothing.
 */
export function createPaidPayments(
  target: BenchStack | PaymentTarget,
  count: number,
  { userId, amount = 10_000, concurrency = 8 }: PaidPaymentOptions = {},
): Promise<PaidPayment[]> {
  const t = "runtime" in target ? stackTarget(target) : target;
  return t.withoutWebhooks(count, () => _pay(t, count, { userId, amount, concurrency }));
}

async function _pay(
  target: PaymentTarget,
  count: number,
  { userId, amount, concurrency }: { userId: string | undefined; amount: number; concurrency: number },
): Promise<PaidPayment[]> {
  const out: PaidPayment[] = new Array(count);
  const sharedToken = userId ? await target.userToken(userId) : null;
  const run = await runPool(Array.from({ length: count }, (_, i) => i), async (i) => {
    const owner = userId ?? crypto.randomUUID();
    const token = sharedToken ?? await target.userToken(owner);
    const init = await fetch(`${target.url}/v1/payments`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "Idempotency-Key": crypto.randomUUID(),
      },
      body: JSON.stringify({ amount, currency: "NGN" }),
    });
    const created = await init.json();
    if (init.status !== 201) throw new Error(`initialize answered ${init.status}: ${JSON.stringify(created)}`);
    const paid = await fetch(String(created.authorization_url), {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams({ outcome: "success" }),
    });
    const settled = await paid.json();
    if (paid.status !== 200) throw new Error(`checkout answered ${paid.status}: ${JSON.stringify(settled)}`);
    const webhookBody = JSON.stringify({ event: "charge.success", data: settled.data });
    out[i] = {
      userId: owner,
      token,
      reference: String(created.reference),
      amount,
      currency: "NGN",
      webhookBody,
      signature: await paystackSignature(target.paystackSecret, webhookBody),
    };
  }, { concurrency, deadlineMs: 600_000 });
  if (run.errors > 0) throw new Error(`Set-up failed for ${run.errors} payments: ${run.firstErrors.join("; ")}`);
  return out;
}

/** The webhook delivery of `payment`, as the provider sends it. */
export function webhookRequest(service: { url: string }, payment: PaidPayment): RequestSpec {
  return {
    url: `${service.url}/v1/webhooks/paystack`,
    method: "POST",
    headers: { "Content-Type": "application/json", "x-paystack-signature": payment.signature },
    body: payment.webhookBody,
  };
}

/** The owner's `POST /v1/payments/:reference/verify`. */
export function verifyRequest(service: { url: string }, payment: PaidPayment): RequestSpec {
  return {
    url: `${service.url}/v1/payments/${payment.reference}/verify`,
    method: "POST",
    headers: { Authorization: `Bearer ${payment.token}` },
  };
}
