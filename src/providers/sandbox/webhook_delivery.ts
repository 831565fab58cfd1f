/**
 * Webhook delivery of the sandbox Paystack, as Paystack does it: the event is
 * serialised once, signed over those exact bytes (`x-paystack-signature`,
 * hex HMAC-SHA512 with the secret key) and POSTed; an attempt that does not
 * get a 2xx is retried on a schedule with the same bytes. Each event and its
 * attempts are recorded in `sandbox_paystack.deliveries`.
 *
 * Paystack retries every 3 minutes for the first 4 tries, then hourly for 72
 * hours; the sandbox compresses that into a short schedule so dev and tests
 * see retries in seconds. Every wait is cancelled by {@linkcode WebhookDelivery.close}.
 *
 * @module
 */
import { signPaystackBody } from "../paystack_signature.ts";
import { abortableSleep } from "./abortable_sleep.ts";
import type { SandboxFaults } from "./sandbox_faults.ts";
import type { DeliveryRecord, SandboxStore } from "./sandbox_store.ts";

/** Paystack's schedule compressed: waits (ms) between attempts, so 1 + its length attempts in all. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [1_000, 3_000, 10_000, 30_000];

/** Longest schedule accepted: a bound on the attempts of one event. */
const MAX_RETRIES = 50;
/** Longest single wait (a day); beyond setTimeout's range a timer would fire at once. */
const MAX_WAIT_MS = 86_400_000;
/** Upper bound on `idle()` rounds: an event sent while waiting starts another round. */
const MAX_IDLE_ROUNDS = 1_000;

/** A structured log line (no secrets, no bodies). */
export type SandboxLog = (entry: Record<string, unknown>) => void;

/** Options of {@linkcode createWebhookDelivery}. */
export interface WebhookDeliveryOptions {
  store: SandboxStore;
  faults: SandboxFaults;
  secretKey: string;
  /** Where events go; `null` records events without sending them. */
  url: string | null;
  retrySchedule: readonly number[];
  /** Budget of one attempt. */
  timeoutMs: number;
  fetch: typeof globalThis.fetch;
  log: SandboxLog;
}

/** Sends webhook events with retries. */
export interface WebhookDelivery {
  /**
   * Records `{event, data}` and starts delivering it in the background.
   * Resolves once recorded, before the first attempt.
   */
  send(event: string, reference: string, data: unknown): Promise<DeliveryRecord | null>;
  /** Resolves when every started delivery has finished (delivered, given up or cancelled). */
  idle(): Promise<void>;
  /** Cancels pending retries and in-flight attempts, then waits for them to stop. */
  close(): Promise<void>;
}

interface _Attempt {
  status: number | null;
  error: string | null;
  delivered: boolean;
}

/** Checks a retry schedule: bounded length, each wait a non-negative integer. */
export function checkRetrySchedule(schedule: readonly number[]): readonly number[] {
  if (schedule.length > MAX_RETRIES || schedule.some((ms) => !Number.isSafeInteger(ms) || ms < 0 || ms > MAX_WAIT_MS)) {
    throw new RangeError(
      `Cannot deliver webhooks: retrySchedule must be at most ${MAX_RETRIES} waits of 0 to ${MAX_WAIT_MS} ms`,
    );
  }
  return [...schedule];
}

/** Creates the delivery machinery of one sandbox. */
export function createWebhookDelivery(
  { store, faults, secretKey, url, retrySchedule, timeoutMs, fetch, log }: WebhookDeliveryOptions,
): WebhookDelivery {
  const schedule = checkRetrySchedule(retrySchedule);
  const closing = new AbortController();
  const active = new Set<Promise<void>>();

  async function attemptOnce(target: string, bytes: Uint8Array<ArrayBuffer>, signature: string): Promise<_Attempt> {
    const injected = faults.takeWebhookFault();
    if (injected === 0) return { status: null, error: "injected network error", delivered: false };
    if (injected !== null) return { status: injected, error: "injected failure", delivered: false };
    try {
      const response = await fetch(target, {
        method: "POST",
        headers: { "Content-Type": "application/json", "x-paystack-signature": signature },
        body: bytes,
        signal: AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]),
      });
      // Drain the answer: an unread body keeps the connection (and the test's resource sanitizer) busy.
      await response.body?.cancel();
      return { status: response.status, error: null, delivered: response.ok };
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      return { status: null, error: `${name}: delivery failed`, delivered: false };
    }
  }

  async function run(record: DeliveryRecord, target: string, signature: string): Promise<void> {
    const bytes = new TextEncoder().encode(record.body);
    for (let attempt = 0; attempt <= schedule.length; attempt++) {
      if (attempt > 0 && !await abortableSleep(schedule[attempt - 1] ?? 0, closing.signal)) return;
      if (!await abortableSleep(faults.webhookDelay(), closing.signal)) return;
      const result = await attemptOnce(target, bytes, signature);
      if (closing.signal.aborted && !result.delivered) return;
      try {
        await store.recordAttempt(record.id, result);
      } catch (error) {
        log({
          level: "error",
          msg: "sandbox could not record a delivery attempt",
          delivery: record.id,
          error: String(error),
        });
      }
      log({
        level: result.delivered ? "info" : "warn",
        msg: "sandbox webhook attempt",
        event: record.event,
        reference: record.reference,
        attempt: attempt + 1,
        status: result.status,
        delivered: result.delivered,
      });
      if (result.delivered) return;
    }
  }

  async function idle(): Promise<void> {
    for (let round = 0; round < MAX_IDLE_ROUNDS && active.size > 0; round++) {
      await Promise.allSettled([...active]);
    }
  }

  return {
    async send(event, reference, data) {
      if (url === null) return null;
      const body = JSON.stringify({ event, data });
      const record = await store.recordDelivery({ event, reference, url, body });
      if (closing.signal.aborted) return record;
      const signature = await signPaystackBody(secretKey, body);
      const chain = run(record, url, signature).catch((error) =>
        log({ level: "error", msg: "sandbox webhook delivery crashed", delivery: record.id, error: String(error) })
      );
      active.add(chain);
      void chain.finally(() => active.delete(chain));
      return record;
    },

    idle,

    async close() {
      closing.abort();
      await idle();
    },
  };
}
