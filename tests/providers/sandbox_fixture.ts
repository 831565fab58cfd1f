/**
 * Test fixture of the provider tests: the sandbox Paystack served over real
 * HTTP (`Deno.serve` on port 0) on an isolated Postgres database, a webhook
 * receiver on its own port, and the Paystack adapter pointed at the sandbox.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Timers } from "../../src/observability/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/test_db.ts";
import { type PaymentProvider, ProviderError, type ProviderErrorKind } from "../../src/payments/payment_provider.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import {
  createSandboxPaystack,
  type RefundSchedule,
  SANDBOX_SECRET_KEY,
  type SandboxPaystack,
} from "../../src/providers/sandbox/sandbox_paystack.ts";
import { ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_store.ts";

/** One webhook request as the receiver got it. */
export interface ReceivedWebhook {
  rawBody: string;
  signature: string | null;
  contentType: string | null;
  json: { event: string; data: Record<string, unknown> };
}

/** A tiny webhook endpoint that records what it gets and answers scripted statuses. */
export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Statuses to answer, first to last; 200 once empty. */
  script: number[];
  /** Resolves once `count` requests have arrived (at once if they already have). */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1, port chosen by the OS. */
export function startReceiver(): WebhookReceiver {
  const received: ReceivedWebhook[] = [];
  const script: number[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const rawBody = await request.text();
    received.push({
      rawBody,
      signature: request.headers.get("x-paystack-signature"),
      contentType: request.headers.get("content-type"),
      json: JSON.parse(rawBody),
    });
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    return new Response(null, { status: script.shift() ?? 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1/webhooks/paystack`,
    received,
    script,
    waitFor(count) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () => server.shutdown(),
  };
}

/** A sandbox served over HTTP. */
export interface ServedSandbox {
  sandbox: SandboxPaystack;
  /** The adapter's `baseUrl`. */
  baseUrl: string;
  close(): Promise<void>;
}

/** Sandbox options a test may set. */
export interface SandboxTestOptions {
  webhookUrl?: string;
  retrySchedule?: number[];
  /** Currencies enabled on the sandbox merchant; all Paystack's when absent. */
  currencies?: string[];
  /** The timers refund steps wait on (a `ManualClock` to step them); the real ones when absent. */
  timers?: Timers;
  /** How long refunds stay pending, then processing; the sandbox's default when absent. */
  refundSchedule?: RefundSchedule;
}

/** Serves a sandbox over `db` on port 0. */
export function serveSandbox(
  db: TestDatabase,
  { webhookUrl, retrySchedule = [50, 50, 50], currencies, timers, refundSchedule }: SandboxTestOptions = {},
): ServedSandbox {
  const sandbox = createSandboxPaystack({
    db: db.db,
    retrySchedule,
    ...(webhookUrl ? { webhookUrl } : {}),
    ...(currencies ? { currencies } : {}),
    ...(timers ? { timers } : {}),
    ...(refundSchedule ? { refundSchedule } : {}),
    log: () => {},
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, sandbox.app.fetch);
  return {
    sandbox,
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      await sandbox.close();
      await server.shutdown();
    },
  };
}

/** Everything a provider test needs. */
export interface SandboxFixture extends ServedSandbox {
  db: TestDatabase;
  receiver: WebhookReceiver;
  provider: PaymentProvider;
  /** An adapter with other options against the same sandbox. */
  providerWith(options: { timeoutMs?: number; secretKey?: string }): PaymentProvider;
}

/**
 * Runs `fn` against a fresh fixture and tears everything down afterwards,
 * in reverse order, whatever `fn` did.
 */
export async function withSandbox(
  fn: (f: SandboxFixture) => Promise<void>,
  options: Omit<SandboxTestOptions, "webhookUrl"> = {},
): Promise<void> {
  const db = await createTestDatabase({ migrated: false, max: 4 });
  const receiver = startReceiver();
  let served: ServedSandbox | null = null;
  try {
    await ensureSandboxSchema(db.db);
    served = serveSandbox(db, { webhookUrl: receiver.url, ...options });
    const baseUrl = served.baseUrl;
    const providerWith = ({ timeoutMs = 5_000, secretKey = SANDBOX_SECRET_KEY }) =>
      createPaystackProvider({ secretKey, baseUrl, timeoutMs });
    await fn({ ...served, db, receiver, provider: providerWith({}), providerWith });
  } finally {
    await served?.close();
    await receiver.close();
    await db.close();
  }
}

/** Submits the checkout form at `authorizationUrl` like a browser would; answers the response text. */
export async function submitCheckout(
  authorizationUrl: string,
  fields: Record<string, string>,
  { json = false }: { json?: boolean } = {},
): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(authorizationUrl, {
    method: "POST",
    headers: json ? { Accept: "application/json" } : {},
    body: new URLSearchParams(fields),
  });
  return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
}

/**
 * Runs `run` and asserts it rejects with a {@linkcode ProviderError} of `kind`
 * (and the given status/message), whose message never carries the secret key.
 */
export async function rejectsWith(
  run: () => Promise<unknown>,
  kind: ProviderErrorKind,
  expect: { httpStatus?: number | null; providerMessage?: RegExp } = {},
): Promise<ProviderError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProviderError, `expected a ProviderError, got ${caught}`);
  assert.equal(caught.kind, kind, caught.message);
  if (expect.httpStatus !== undefined) assert.equal(caught.httpStatus, expect.httpStatus);
  if (expect.providerMessage) assert.match(caught.providerMessage ?? "", expect.providerMessage);
  assert.ok(!caught.message.includes(SANDBOX_SECRET_KEY), "the secret key must never appear in errors");
  return caught;
}

/** The secret key's `Authorization` header, as the adapter sends it. */
export const SANDBOX_AUTH = { Authorization: `Bearer ${SANDBOX_SECRET_KEY}` };

/** Paystack's envelope; `data` and `meta` stay loosely typed because each test asserts the fields it reads. */
// deno-lint-ignore no-explicit-any
export type Envelope = { status: boolean; message: string; data?: any; meta?: any };

/** Plain HTTP to the sandbox, for what the adapter does not expose (or to see the raw answer). */
export async function sandboxApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = SANDBOX_AUTH,
): Promise<{ status: number; contentType: string | null; json: Envelope }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, contentType: response.headers.get("content-type"), json: await response.json() };
}
