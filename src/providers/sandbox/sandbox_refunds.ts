/**
 * Refunds of the sandbox Paystack, as Paystack runs them: `POST /refund`
 * accepts a refund (partial amounts; by default all that remains) and answers
 * it `pending`; the refund then moves on by itself, `pending` → `processing`
 * → `processed` (or `failed`, or `needs-attention`), each step announced by a
 * signed `refund.*` webhook sent with the sandbox's retry machinery.
 * `GET /refund` lists refunds (filtered by transaction id, paged with
 * Paystack's `meta`), `GET /refund/:id` fetches one.
 *
 * The steps wait on injected {@linkcode Timers} for the times of a
 * {@linkcode RefundSchedule}, so a test drives them with a manual clock
 * instead of sleeping. Refunds live in `sandbox_paystack.refunds`: a
 * restarted sandbox resumes the ones still in flight.
 *
 * Faults (see `sandbox_faults.ts`): `refund_outcome` makes the next refunds
 * end `failed` or `needs-attention`; `refund_lose_answer` creates the refund
 * and then loses the answer (the crash-between-provider-and-ledger case);
 * `fail`/`drop`/`delay` with `endpoint: "refund"` refuse or hang the call
 * before anything is created.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { Timers } from "../../observability/clock.ts";
import { abortableSleep } from "./abortable_sleep.ts";
import { refundData, refundEventData, refundEventOf, refundObjectData } from "./paystack_payloads.ts";
import type { SandboxFaults } from "./sandbox_faults.ts";
import type { RefundRefusal, SandboxRefund, SandboxStore } from "./sandbox_store.ts";
import type { SandboxLog, WebhookDelivery } from "./webhook_delivery.ts";

/**
 * How long a refund stays in each non-final status. Paystack takes days; the
 * sandbox compresses that, as it compresses webhook retries.
 */
export interface RefundSchedule {
  /** From creation to `processing`. */
  pendingMs: number;
  /** From `processing` to the outcome (`processed`, `failed` or `needs-attention`). */
  processingMs: number;
}

/** The default {@linkcode RefundSchedule}: a refund settles about 4 s after it was made. */
export const DEFAULT_REFUND_SCHEDULE: Readonly<RefundSchedule> = { pendingMs: 1_000, processingMs: 3_000 };

/** Longest wait of a schedule step (a day), as for webhook retries. */
const MAX_STEP_MS = 86_400_000;
/** Upper bound on `idle()` rounds: a step finishing may start no other, but stay bounded anyway. */
const MAX_IDLE_ROUNDS = 1_000;
/** Paystack's default page size of `GET /refund`. */
const DEFAULT_PER_PAGE = 50;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Paystack's error `type`s, as the sandbox's error envelope takes them. */
type _ErrorType = "api_error" | "validation_error" | "processor_error";

/** The sandbox's Paystack error envelope (`{status: false, message, …}`). */
export type PaystackFail = (
  c: Context,
  status: ContentfulStatusCode,
  message: string,
  detail?: { type: _ErrorType; nextStep: string },
) => Response;

/** Options of {@linkcode createSandboxRefunds}. */
export interface SandboxRefundsOptions {
  store: SandboxStore;
  faults: SandboxFaults;
  delivery: WebhookDelivery;
  /** Times the progression; a test passes a manual clock. */
  timers: Timers;
  schedule: RefundSchedule;
  /** Aborted when the sandbox closes: cuts a lost answer's hang short. */
  closing: AbortSignal;
  /** Answers an error in Paystack's envelope, as the rest of the sandbox does. */
  fail: PaystackFail;
  log: SandboxLog;
}

/** The refund routes and their background progression. */
export interface SandboxRefunds {
  /** `POST /refund`. */
  create(c: Context): Promise<Response>;
  /** `GET /refund`. */
  list(c: Context): Promise<Response>;
  /** `GET /refund/:id`. */
  fetch(c: Context): Promise<Response>;
  /** Schedules the next step of every refund still in flight (a restarted sandbox). */
  resume(): Promise<void>;
  /** Resolves when no step is running; steps still waiting on the timers are not waited for. */
  idle(): Promise<void>;
  /** Cancels every scheduled step, then waits for the running ones. */
  close(): Promise<void>;
}

/** Minor units as Paystack accepts them: an integer, or a string of digits. */
const _minorUnits = z.union([z.number(), z.string().regex(/^[0-9]{1,16}$/).transform(Number)])
  .refine((n) => Number.isSafeInteger(n) && n > 0);

const _refundBody = z.object({
  transaction: z.union([z.string().min(1).max(100), z.number().int().positive().transform(String)]),
  amount: _minorUnits.optional(),
  currency: z.string().optional(),
  customer_note: z.string().max(500).optional(),
  merchant_note: z.string().max(500).optional(),
});

/** A positive integer query value. */
const _positive = z.string().regex(/^[0-9]{1,9}$/).transform(Number).refine((n) => n >= 1);

/** A timestamp query value: an ISO 8601 date or date-time, as Paystack takes `from` and `to`. */
const _timestamp = z.string().refine((text) => Number.isFinite(Date.parse(text))).transform((text) =>
  new Date(Date.parse(text)).toISOString()
);

/**
 * The query of `GET /refund`, as Paystack's API reference documents it:
 * `transaction` is "the transaction ID of the refunded transaction"; a
 * reference there matches no refund.
 */
const _listQuery = z.object({
  transaction: z.string().min(1).max(100).optional(),
  currency: z.string().regex(CURRENCY_PATTERN).optional(),
  from: _timestamp.optional(),
  to: _timestamp.optional(),
  perPage: _positive.optional(),
  page: _positive.optional(),
});

const REFUND_REFUSALS: Record<RefundRefusal, [ContentfulStatusCode, string]> = {
  not_found: [404, "Transaction not found"],
  not_successful: [400, "Cannot refund a transaction that was not successful"],
  fully_refunded: [400, "Transaction has been fully reversed"],
  exceeds_remaining: [400, "Refund amount cannot be greater than the unrefunded transaction amount"],
  currency_mismatch: [400, "Refund currency does not match the transaction currency"],
};

/** Checks a schedule: each wait a non-negative integer of at most a day. */
export function checkRefundSchedule(schedule: RefundSchedule): RefundSchedule {
  for (const [name, ms] of Object.entries(schedule)) {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_STEP_MS) {
      throw new RangeError(`Cannot progress refunds: refundSchedule.${name} must be 0 to ${MAX_STEP_MS} ms, got ${ms}`);
    }
  }
  return { pendingMs: schedule.pendingMs, processingMs: schedule.processingMs };
}

/** A processor's reference for a refund that ended, in the shape of Paystack's samples (`TRF_…`). */
function _processorReference(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return `TRF_${[...bytes].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join("")}`;
}

/** Creates the refund routes and progression of one sandbox. */
export function createSandboxRefunds(
  { store, faults, delivery, timers, schedule, closing, fail, log }: SandboxRefundsOptions,
): SandboxRefunds {
  const steps = checkRefundSchedule(schedule);
  /** Pending timers by refund id: one next step per refund at most. */
  const scheduled = new Map<number, number>();
  const running = new Set<Promise<void>>();
  let closed = false;

  const expectedAt = (r: SandboxRefund) =>
    new Date(Date.parse(r.createdAt) + steps.pendingMs + steps.processingMs).toISOString();

  /** Arms the timer of `refund`'s next step, if it has one. */
  function scheduleNext(refund: SandboxRefund): void {
    if (closed || scheduled.has(refund.id)) return;
    if (refund.status !== "pending" && refund.status !== "processing") return;
    const from = refund.status;
    const id = timers.setTimeout(() => {
      scheduled.delete(refund.id);
      const work = step(refund, from).catch((error) => {
        log({ level: "error", msg: "sandbox refund step failed", refund: refund.id, error: String(error) });
        // Try the same step again after the same wait: the refund is still where it was.
        scheduleNext(refund);
      });
      running.add(work);
      void work.finally(() => running.delete(work));
    }, from === "pending" ? steps.pendingMs : steps.processingMs);
    scheduled.set(refund.id, id);
  }

  /** Moves `refund` out of `from`, announces where it went, and arms the next step. */
  async function step(refund: SandboxRefund, from: "pending" | "processing"): Promise<void> {
    if (closed) return;
    const advanced = await store.advanceRefund(refund.id, from, _processorReference());
    // Another sandbox on the same database (a restart overlapping) may have taken the step.
    if (advanced === null) return;
    await announce(advanced.refund, advanced.transaction);
    scheduleNext(advanced.refund);
  }

  async function announce(refund: SandboxRefund, transaction: Parameters<typeof refundEventData>[1]): Promise<void> {
    await delivery.send(refundEventOf(refund), transaction.reference, await refundEventData(refund, transaction));
  }

  async function create(c: Context): Promise<Response> {
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      json = undefined;
    }
    const parsed = _refundBody.safeParse(json);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path[0];
      if (field === "transaction") return fail(c, 400, "Transaction reference or id is required");
      if (field === "amount") return fail(c, 400, "Invalid amount");
      return fail(c, 400, "Invalid request body");
    }
    const body = parsed.data;
    if (body.currency !== undefined && !CURRENCY_PATTERN.test(body.currency)) {
      return fail(c, 400, "Invalid currency");
    }
    const result = await store.createRefund({
      transaction: body.transaction,
      amount: body.amount ?? null,
      currency: body.currency ?? null,
      merchantNote: body.merchant_note ?? null,
      customerNote: body.customer_note ?? null,
      outcome: (t) => faults.takeRefundOutcome(t.reference) ?? "processed",
    });
    if (result.outcome === "refused") {
      const [status, message] = REFUND_REFUSALS[result.reason];
      return fail(c, status, message);
    }
    const { refund, transaction } = result;
    await announce(refund, transaction);
    scheduleNext(refund);
    const lost = faults.takeRefundAnswerLoss();
    if (lost !== null) {
      // The refund exists and goes on; only the answer is lost, as when a connection drops after Paystack acted.
      await abortableSleep(lost.ms, closing);
      return fail(c, 504, "Gateway timeout (sandbox lost the answer)");
    }
    return c.json({
      status: true,
      message: "Refund has been queued for processing",
      data: await refundData(refund, transaction, expectedAt(refund)),
    });
  }

  async function list(c: Context): Promise<Response> {
    const parsed = _listQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path[0];
      return fail(c, 400, `Invalid ${typeof field === "string" ? field : "query"}`, {
        type: "validation_error",
        nextStep: "Check the query parameters: transaction, currency, from, to, perPage, page",
      });
    }
    const { transaction, currency = null, from = null, to = null, perPage = DEFAULT_PER_PAGE, page = 1 } = parsed.data;
    // Paystack documents a transaction id here; anything else names no transaction, so it matches nothing.
    const transactionId = transaction === undefined
      ? null
      : /^[0-9]{1,15}$/.test(transaction)
      ? Number(transaction)
      : 0;
    const listed = await store.listRefunds({ transactionId, currency, from, to, perPage, page });
    return c.json({
      status: true,
      message: "Refunds retrieved",
      data: await Promise.all(
        listed.refunds.map((r) => refundObjectData(r.refund, r.transaction, expectedAt(r.refund))),
      ),
      meta: {
        total: listed.total,
        skipped: (page - 1) * perPage,
        perPage,
        page,
        pageCount: Math.ceil(listed.total / perPage),
        failedRefundCount: listed.failed,
      },
    });
  }

  async function fetch(c: Context): Promise<Response> {
    const id = c.req.param("id") ?? "";
    const found = /^[0-9]{1,15}$/.test(id) ? await store.findRefund(Number(id)) : null;
    if (found === null) return fail(c, 404, "Refund not found");
    return c.json({
      status: true,
      message: "Refund retrieved",
      data: await refundObjectData(found.refund, found.transaction, expectedAt(found.refund)),
    });
  }

  async function idle(): Promise<void> {
    for (let round = 0; round < MAX_IDLE_ROUNDS && running.size > 0; round++) {
      await Promise.allSettled([...running]);
    }
  }

  return {
    create,
    list,
    fetch,
    async resume() {
      for (const refund of await store.listRefundsInFlight()) scheduleNext(refund);
    },
    idle,
    async close() {
      closed = true;
      for (const id of scheduled.values()) timers.clearTimeout(id);
      scheduled.clear();
      await idle();
    },
  };
}
