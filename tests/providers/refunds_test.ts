/**
 * Refunds at the provider: the Paystack adapter's `refund`, `fetchRefund`
 * and `listRefunds` against the sandbox over real HTTP, the sandbox's
 * asynchronous progression (stepped with a manual clock, never slept on),
 * its `refund.*` webhooks in Paystack's documented shapes, its fault
 * injection, and the adapter's handling of answers that are not Paystack's.
 */
import assert from "node:assert/strict";
import { type PaymentProvider, type ProviderError, type RefundInput } from "../../src/payments/payment_provider.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { verifyPaystackSignature } from "../../src/providers/paystack_signature.ts";
import { createPaystackWebhookParser } from "../../src/providers/paystack_webhook.ts";
import {
  createSandboxPaystack,
  DEFAULT_REFUND_SCHEDULE,
  SANDBOX_SECRET_KEY,
  type SandboxPaystack,
} from "../../src/providers/sandbox/sandbox_paystack.ts";
import { ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_store.ts";
import { refundSchedule } from "../../src/providers/sandbox/serve_sandbox.ts";
import { ManualClock } from "../support/manual_clock.ts";
import { createTestDatabase } from "../support/test_db.ts";
import {
  type ReceivedWebhook,
  rejectsWith,
  sandboxApi as api,
  serveSandbox,
  startReceiver,
  submitCheckout,
  withSandbox,
} from "./sandbox_fixture.ts";

/** The schedule the tests step through: pending for 1 s, processing for 5 s. */
const SCHEDULE = { pendingMs: 1_000, processingMs: 5_000 };

/**
 * The fields of a refund in the answer of `POST /refund`, as Paystack's API
 * reference shows it (PaystackOSS/doc-code-snippets `src/api/refunds/create`).
 */
const CREATE_FIELDS = [
  "amount",
  "channel",
  "createdAt",
  "currency",
  "customer_note",
  "deducted_amount",
  "domain",
  "expected_at",
  "fully_deducted",
  "id",
  "integration",
  "merchant_note",
  "refunded_by",
  "status",
  "transaction",
  "updatedAt",
];

/**
 * The fields of a refund in `GET /refund/:id` and `GET /refund`: the API
 * reference's fetch sample, plus the fields of Paystack's OpenAPI
 * description (PaystackOSS/openapi `RefundFetchResponse`) the sandbox fills.
 */
const OBJECT_FIELDS = [
  "amount",
  "bank_reference",
  "channel",
  "createdAt",
  "currency",
  "customer",
  "customer_note",
  "deducted_amount",
  "dispute",
  "domain",
  "expected_at",
  "fully_deducted",
  "id",
  "initiated_by",
  "integration",
  "merchant_note",
  "refunded_at",
  "refunded_by",
  "session_id",
  "settlement",
  "status",
  "transaction",
  "transaction_amount",
  "transaction_reference",
  "updatedAt",
];

/** The fields of each `refund.*` webhook's `data`, as Paystack's samples of the events show them. */
const EVENT_FIELDS: Record<string, string[]> = {
  "refund.pending": [
    "amount",
    "currency",
    "customer",
    "domain",
    "integration",
    "processor",
    "refund_reference",
    "status",
    "transaction_reference",
  ],
  "refund.needs-attention": [
    "amount",
    "currency",
    "customer",
    "customer_note",
    "domain",
    "id",
    "integration",
    "merchant_note",
    "refund_reference",
    "status",
    "transaction_reference",
  ],
};
EVENT_FIELDS["refund.processing"] = EVENT_FIELDS["refund.pending"]!;
EVENT_FIELDS["refund.processed"] = EVENT_FIELDS["refund.pending"]!;
EVENT_FIELDS["refund.failed"] = EVENT_FIELDS["refund.pending"]!;

function ref(): string {
  return `rf-${crypto.randomUUID()}`;
}

function keys(value: unknown): string[] {
  return Object.keys(value as Record<string, unknown>).sort();
}

/** A paid transaction of `amount`: its reference and Paystack's transaction id. */
async function paid(
  provider: PaymentProvider,
  amount: number,
  currency = "NGN",
): Promise<{ reference: string; id: string }> {
  const reference = ref();
  const init = await provider.initialize({ reference, amount, currency, email: "refund@example.ng" });
  const settled = await submitCheckout(init.authorizationUrl, { outcome: "success" });
  assert.equal(settled.status, 200);
  const { providerTransactionId } = await provider.verify(reference);
  assert.ok(providerTransactionId !== null);
  return { reference, id: providerTransactionId };
}

function refundOf(transaction: string, amount: number, overrides: Partial<RefundInput> = {}): RefundInput {
  return { transaction, amount, currency: "NGN", merchantNote: `refund:${crypto.randomUUID()}`, ...overrides };
}

/** The refund webhooks received about `reference`, in order. */
function refundEvents(received: ReceivedWebhook[], reference: string): ReceivedWebhook[] {
  return received.filter((w) => w.json.event.startsWith("refund.") && w.json.data.transaction_reference === reference);
}

/** Lets `ms` pass on the clock, then waits for the steps it started and their webhooks. */
async function advance(clock: ManualClock, sandbox: SandboxPaystack, ms: number): Promise<void> {
  await clock.advance(ms);
  await sandbox.idle();
}

Deno.test("refund() answers pending, then the refund moves pending → processing → processed on the schedule, each step a signed refund.* webhook", async () => {
  const clock = new ManualClock();
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const { reference, id } = await paid(provider, 20_000);
    const refund = await provider.refund(
      refundOf(reference, 5_000, { merchantNote: "refund:r-1", customerNote: "Sorry for the trouble" }),
    );
    assert.equal(refund.status, "pending");
    assert.equal(refund.amount, 5_000);
    assert.equal(refund.currency, "NGN");
    assert.equal(refund.transactionReference, reference);
    assert.equal(refund.merchantNote, "refund:r-1");
    assert.match(refund.refundId, /^\d+$/);
    const raw = refund.raw as Record<string, unknown>;
    assert.deepEqual(keys(raw), CREATE_FIELDS, "only the fields Paystack documents");
    assert.equal(raw.customer_note, "Sorry for the trouble");
    assert.deepEqual((raw.transaction as { id: number; reference: string }).id, Number(id));
    assert.equal(clock.pending, 1, "the next step waits on the clock");

    await sandbox.idle();
    assert.deepEqual(refundEvents(receiver.received, reference).map((w) => w.json.event), ["refund.pending"]);

    await advance(clock, sandbox, SCHEDULE.pendingMs - 1);
    assert.equal((await provider.fetchRefund(refund.refundId)).status, "pending");
    await advance(clock, sandbox, 1);
    assert.equal((await provider.fetchRefund(refund.refundId)).status, "processing");
    await advance(clock, sandbox, SCHEDULE.processingMs);
    const processed = await provider.fetchRefund(refund.refundId);
    assert.equal(processed.status, "processed");
    assert.equal(processed.amount, 5_000);
    assert.equal(processed.merchantNote, "refund:r-1");
    assert.equal(processed.transactionReference, reference);
    const fetched = processed.raw as Record<string, unknown>;
    assert.deepEqual(keys(fetched), OBJECT_FIELDS);
    assert.equal(fetched.transaction, Number(id), "fetch names the transaction by id");
    assert.ok(typeof fetched.refunded_at === "string");
    assert.equal(clock.pending, 0, "a processed refund goes nowhere else");

    const events = refundEvents(receiver.received, reference);
    assert.deepEqual(events.map((w) => w.json.event), ["refund.pending", "refund.processing", "refund.processed"]);
    const parse = createPaystackWebhookParser(SANDBOX_SECRET_KEY);
    const eventKeys = new Set<string>();
    for (const w of events) {
      assert.equal(await verifyPaystackSignature(SANDBOX_SECRET_KEY, w.rawBody, w.signature), true);
      assert.deepEqual(keys(w.json.data), EVENT_FIELDS[w.json.event]);
      assert.equal(w.json.data.status, w.json.event.slice("refund.".length));
      // Paystack's samples of these three events send the amount as a digit string.
      assert.equal(w.json.data.amount, "5000");
      assert.equal(w.json.data.currency, "NGN");
      assert.equal((w.json.data.customer as { email: string }).email, "refund@example.ng");
      const event = await parse({ rawBody: w.rawBody, signature: w.signature });
      assert.equal(event.claim, "refund_updated");
      assert.equal(event.reference, reference);
      assert.equal(event.refundId, null, "Paystack documents no refund id in these events");
      eventKeys.add(event.eventKey);
    }
    assert.equal(eventKeys.size, 3, "each status of a refund is its own event");
    assert.equal(events[0]?.json.data.refund_reference, null);
    assert.equal(events[1]?.json.data.refund_reference, null);
    assert.match(String(events[2]?.json.data.refund_reference), /^TRF_/);

    // A partial refund leaves the transaction successful.
    assert.equal((await provider.verify(reference)).status, "success");
  }, { timers: clock, refundSchedule: SCHEDULE });
});

Deno.test("refunds are partial up to what remains; more, a fully reversed or unpaid transaction → rejected with Paystack's message", async () => {
  await withSandbox(async ({ provider, baseUrl, sandbox }) => {
    const { reference } = await paid(provider, 30_000);
    assert.equal((await provider.refund(refundOf(reference, 10_000))).amount, 10_000);
    assert.equal((await provider.refund(refundOf(reference, 15_000))).amount, 15_000);
    await rejectsWith(() => provider.refund(refundOf(reference, 5_001)), "rejected", {
      httpStatus: 400,
      providerMessage: /^Refund amount cannot be greater than the unrefunded transaction amount$/,
    });
    await rejectsWith(() => provider.refund(refundOf(reference, 100, { currency: "USD" })), "rejected", {
      httpStatus: 400,
    });
    assert.equal((await provider.verify(reference)).status, "success");
    assert.equal((await provider.refund(refundOf(reference, 5_000))).amount, 5_000);
    assert.equal((await provider.verify(reference)).status, "reversed");
    await rejectsWith(() => provider.refund(refundOf(reference, 1)), "rejected", {
      httpStatus: 400,
      providerMessage: /^Transaction has been fully reversed$/,
    });

    // Without an amount Paystack refunds what remains; by transaction id as well as by reference.
    const other = await paid(provider, 8_000);
    await provider.refund(refundOf(other.reference, 3_000));
    const rest = await api(baseUrl, "POST", "/refund", { transaction: Number(other.id) });
    assert.equal(rest.status, 200);
    assert.equal(rest.json.message, "Refund has been queued for processing");
    assert.equal(rest.json.data.amount, 5_000);
    assert.equal(rest.json.data.status, "pending");
    assert.match(rest.json.data.merchant_note, new RegExp(`^Refund for transaction ${other.reference} by `));

    const unpaid = ref();
    await provider.initialize({ reference: unpaid, amount: 1_000, currency: "NGN", email: "u@example.ng" });
    await rejectsWith(() => provider.refund(refundOf(unpaid, 1_000)), "rejected", {
      httpStatus: 400,
      providerMessage: /^Cannot refund a transaction that was not successful$/,
    });
    await rejectsWith(() => provider.refund(refundOf("no-such-payment", 1_000)), "rejected", { httpStatus: 404 });
    assert.equal(sandbox.stats.calls.refund, 10);
  });
});

Deno.test("concurrent partial refunds never exceed what was paid", async () => {
  await withSandbox(async ({ provider }) => {
    const { reference } = await paid(provider, 10_000);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => provider.refund(refundOf(reference, 3_000))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 3);
    for (const r of results) {
      if (r.status === "rejected") assert.match((r.reason as ProviderError).providerMessage ?? "", /greater than/);
    }
    assert.equal((await provider.listRefunds({ transaction: reference })).length, 3);
  });
});

Deno.test("a refund made to fail ends refund.failed and its amount is refundable again", async () => {
  const clock = new ManualClock();
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const { reference } = await paid(provider, 12_000);
    const other = await paid(provider, 1_000);
    // Scoped to one transaction: a refund of another one does not use the rule up.
    sandbox.faults.refundOutcomeNext({ outcome: "failed", reference });
    await provider.refund(refundOf(other.reference, 1_000));
    const refund = await provider.refund(refundOf(reference, 12_000));
    assert.equal(refund.status, "pending", "a refund that will fail is accepted like any other");
    assert.equal((await provider.verify(reference)).status, "reversed");
    await rejectsWith(() => provider.refund(refundOf(reference, 1)), "rejected", { providerMessage: /fully reversed/ });

    await advance(clock, sandbox, SCHEDULE.pendingMs);
    await advance(clock, sandbox, SCHEDULE.processingMs);
    assert.equal((await provider.fetchRefund(refund.refundId)).status, "failed");
    const events = refundEvents(receiver.received, reference);
    assert.deepEqual(events.map((w) => w.json.event), ["refund.pending", "refund.processing", "refund.failed"]);
    const failed = events[2]!.json.data;
    assert.deepEqual(keys(failed), EVENT_FIELDS["refund.failed"]);
    assert.equal(failed.amount, 12_000, "Paystack's refund.failed sample sends the amount as a number");
    assert.match(String(failed.refund_reference), /^TRF_/);

    // The money never went back: the transaction is successful again and can be refunded anew.
    assert.equal((await provider.verify(reference)).status, "success");
    const again = await provider.refund(refundOf(reference, 12_000));
    assert.equal(again.status, "pending");
    await advance(clock, sandbox, SCHEDULE.pendingMs);
    await advance(clock, sandbox, SCHEDULE.processingMs);
    assert.equal((await provider.fetchRefund(again.refundId)).status, "processed");
    assert.equal(
      (await provider.fetchRefund(
        (await provider.listRefunds({ transaction: other.reference }))[0]!.refundId,
      )).status,
      "processed",
      "the other transaction's refund was not made to fail",
    );
  }, { timers: clock, refundSchedule: SCHEDULE });
});

Deno.test("a refund that needs attention sends refund.needs-attention with its id and notes, and keeps its amount", async () => {
  const clock = new ManualClock();
  await withSandbox(async ({ provider, sandbox, receiver }) => {
    const { reference } = await paid(provider, 7_000);
    sandbox.faults.refundOutcomeNext({ outcome: "needs-attention", times: 2 });
    const refund = await provider.refund(refundOf(reference, 7_000, { merchantNote: "refund:na-1" }));
    await advance(clock, sandbox, SCHEDULE.pendingMs);
    await advance(clock, sandbox, SCHEDULE.processingMs);
    assert.equal((await provider.fetchRefund(refund.refundId)).status, "needs-attention");

    const events = refundEvents(receiver.received, reference);
    assert.deepEqual(events.map((w) => w.json.event), [
      "refund.pending",
      "refund.processing",
      "refund.needs-attention",
    ]);
    const last = events[2]!;
    assert.deepEqual(keys(last.json.data), EVENT_FIELDS["refund.needs-attention"]);
    assert.equal(last.json.data.id, refund.refundId, "this event names the refund, as a string");
    assert.equal(last.json.data.amount, 7_000);
    assert.equal(last.json.data.merchant_note, "refund:na-1");
    const event = await createPaystackWebhookParser(SANDBOX_SECRET_KEY)({
      rawBody: last.rawBody,
      signature: last.signature,
    });
    assert.deepEqual([event.claim, event.reference, event.refundId], ["refund_updated", reference, refund.refundId]);
    assert.equal(event.eventKey, `refund.needs-attention:${refund.refundId}`);

    // Stuck, not failed: the amount stays taken.
    assert.equal((await provider.verify(reference)).status, "reversed");
    await rejectsWith(() => provider.refund(refundOf(reference, 1)), "rejected", { providerMessage: /fully reversed/ });
    assert.equal(clock.pending, 0);
    assert.deepEqual(sandbox.faults.snapshot().refundOutcome, [
      { reference: null, remaining: 1, outcome: "needs-attention" },
    ]);
  }, { timers: clock, refundSchedule: SCHEDULE });
});

Deno.test("an answer lost after the refund was created: the caller sees unavailable, the refund exists and is found by its merchant note", async () => {
  const clock = new ManualClock();
  await withSandbox(async ({ provider, providerWith, sandbox, receiver }) => {
    const { reference } = await paid(provider, 10_000);
    sandbox.faults.loseRefundAnswerNext();
    const lost = refundOf(reference, 4_000, { merchantNote: "refund:lost-1" });
    await rejectsWith(() => provider.refund(lost), "unavailable", { httpStatus: 504 });
    assert.deepEqual(sandbox.faults.snapshot().refundAnswerLoss, { remaining: 0, ms: 0 });

    // What a retry must do before sending the refund again: look for it.
    const found = (await provider.listRefunds({ transaction: reference })).filter((r) =>
      r.merchantNote === "refund:lost-1"
    );
    assert.equal(found.length, 1);
    assert.deepEqual([found[0]!.status, found[0]!.amount, found[0]!.transactionReference], [
      "pending",
      4_000,
      reference,
    ]);
    // Sending it blindly again would refund twice: the sandbox would accept a second 4,000.
    assert.equal((await provider.verify(reference)).status, "success");

    // The lost refund goes on like any other, webhooks included.
    await advance(clock, sandbox, SCHEDULE.pendingMs);
    await advance(clock, sandbox, SCHEDULE.processingMs);
    assert.equal((await provider.fetchRefund(found[0]!.refundId)).status, "processed");
    assert.deepEqual(refundEvents(receiver.received, reference).map((w) => w.json.event), [
      "refund.pending",
      "refund.processing",
      "refund.processed",
    ]);

    // A hang instead of a 504: the client's own timeout gives up, the refund exists all the same.
    sandbox.faults.loseRefundAnswerNext({ ms: 60_000 });
    const impatient = providerWith({ timeoutMs: 200 });
    const error = await rejectsWith(
      () => impatient.refund(refundOf(reference, 1_000, { merchantNote: "refund:lost-2" })),
      "unavailable",
      { httpStatus: null },
    );
    assert.match(error.message, /timed out/);
    const notes = (await provider.listRefunds({ transaction: reference })).map((r) => r.merchantNote);
    assert.ok(notes.includes("refund:lost-2"));
    // A refused refund does not use the fault up.
    sandbox.faults.loseRefundAnswerNext();
    await rejectsWith(() => provider.refund(refundOf(reference, 99_999)), "rejected", { httpStatus: 400 });
    assert.deepEqual(sandbox.faults.snapshot().refundAnswerLoss, { remaining: 1, ms: 0 });
  }, { timers: clock, refundSchedule: SCHEDULE });
});

Deno.test("a refund call refused (4xx) or failed (5xx, dropped) before Paystack acted creates nothing", async () => {
  await withSandbox(async ({ provider, providerWith, sandbox, receiver }) => {
    const { reference } = await paid(provider, 5_000);
    sandbox.faults.failNext({ endpoint: "refund", status: 503 });
    await rejectsWith(() => provider.refund(refundOf(reference, 1_000)), "unavailable", { httpStatus: 503 });
    sandbox.faults.failNext({ endpoint: "refund", status: 429 });
    await rejectsWith(() => provider.refund(refundOf(reference, 1_000)), "unavailable", { httpStatus: 429 });
    sandbox.faults.failNext({ endpoint: "refund", status: 422, message: "Refund rejected" });
    await rejectsWith(() => provider.refund(refundOf(reference, 1_000)), "rejected", {
      httpStatus: 422,
      providerMessage: /^Refund rejected$/,
    });
    sandbox.faults.dropNext({ endpoint: "refund", ms: 60_000 });
    await rejectsWith(() => providerWith({ timeoutMs: 200 }).refund(refundOf(reference, 1_000)), "unavailable", {
      httpStatus: null,
    });
    // Only the refund call was faulted: fetch and list still answer.
    assert.deepEqual(await provider.listRefunds({ transaction: reference }), []);
    await sandbox.idle();
    assert.deepEqual(refundEvents(receiver.received, reference), []);
    assert.equal((await provider.refund(refundOf(reference, 5_000))).amount, 5_000, "the whole amount is still there");
  });
});

Deno.test("listRefunds(): every refund of one transaction, by reference or by id, newest first", async () => {
  await withSandbox(async ({ provider, sandbox }) => {
    const a = await paid(provider, 9_000);
    const b = await paid(provider, 9_000);
    const made = [];
    for (const amount of [1_000, 2_000, 3_000]) made.push(await provider.refund(refundOf(a.reference, amount)));
    await provider.refund(refundOf(b.reference, 4_000));

    const verifies = sandbox.stats.calls.verify;
    const byReference = await provider.listRefunds({ transaction: a.reference });
    assert.equal(
      sandbox.stats.calls.verify,
      verifies + 1,
      "Paystack lists by transaction id: the reference is resolved first",
    );
    assert.deepEqual(byReference.map((r) => r.refundId), made.map((r) => r.refundId).reverse());
    assert.deepEqual(byReference.map((r) => r.merchantNote), made.map((r) => r.merchantNote).reverse());
    for (const r of byReference) {
      assert.equal(r.transactionReference, a.reference);
      assert.equal(r.status, "pending");
      assert.deepEqual(keys(r.raw), OBJECT_FIELDS);
    }
    const byId = await provider.listRefunds({ transaction: a.id });
    assert.equal(sandbox.stats.calls.verify, verifies + 1, "an id is listed directly");
    assert.deepEqual(byId.map((r) => r.refundId), byReference.map((r) => r.refundId));

    const none = await paid(provider, 1_000);
    assert.deepEqual(await provider.listRefunds({ transaction: none.reference }), []);
    await rejectsWith(() => provider.listRefunds({ transaction: "never-initialized" }), "not_found", {
      httpStatus: 404,
    });
    await rejectsWith(() => provider.fetchRefund("999999999"), "not_found", { httpStatus: 404 });
  });
});

Deno.test("GET /refund pages like Paystack (transaction id, currency, from/to, perPage/page, meta) and GET /refund/:id answers one", async () => {
  const clock = new ManualClock();
  await withSandbox(async ({ provider, baseUrl, sandbox }) => {
    const a = await paid(provider, 9_000);
    const ghs = await paid(provider, 9_000, "GHS");
    sandbox.faults.refundOutcomeNext({ outcome: "failed", reference: a.reference });
    for (const amount of [1_000, 2_000, 3_000]) await provider.refund(refundOf(a.reference, amount));
    await provider.refund(refundOf(ghs.reference, 4_000, { currency: "GHS" }));
    await advance(clock, sandbox, SCHEDULE.pendingMs);
    await advance(clock, sandbox, SCHEDULE.processingMs);

    const first = await api(baseUrl, "GET", `/refund?transaction=${a.id}&perPage=2&page=1`);
    assert.equal(first.status, 200);
    assert.equal(first.json.message, "Refunds retrieved");
    assert.deepEqual(first.json.data.map((r: { amount: number }) => r.amount), [3_000, 2_000]);
    assert.deepEqual(first.json.meta, {
      total: 3,
      skipped: 0,
      perPage: 2,
      page: 1,
      pageCount: 2,
      failedRefundCount: 1,
    });
    const second = await api(baseUrl, "GET", `/refund?transaction=${a.id}&perPage=2&page=2`);
    assert.deepEqual(second.json.data.map((r: { amount: number }) => r.amount), [1_000]);
    assert.deepEqual(second.json.meta, {
      total: 3,
      skipped: 2,
      perPage: 2,
      page: 2,
      pageCount: 2,
      failedRefundCount: 1,
    });
    assert.equal(second.json.data[0].status, "failed");
    for (const row of [...first.json.data, ...second.json.data]) {
      assert.deepEqual(keys(row), OBJECT_FIELDS);
      assert.equal(row.transaction, Number(a.id));
    }

    // Paystack's filter takes the transaction id: a reference there names no transaction.
    const byReference = await api(baseUrl, "GET", `/refund?transaction=${a.reference}`);
    assert.deepEqual([byReference.json.data, byReference.json.meta.total], [[], 0]);
    const all = await api(baseUrl, "GET", "/refund");
    assert.equal(all.json.meta.total, 4);
    assert.equal(all.json.meta.perPage, 50, "Paystack's default page size");
    assert.equal((await api(baseUrl, "GET", "/refund?currency=GHS")).json.meta.total, 1);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    assert.equal((await api(baseUrl, "GET", `/refund?from=${future}`)).json.meta.total, 0);
    assert.equal((await api(baseUrl, "GET", `/refund?to=${future}`)).json.meta.total, 4);
    for (const bad of ["perPage=0", "page=x", "currency=ngn", "from=yesterday"]) {
      const answer = await api(baseUrl, "GET", `/refund?${bad}`);
      assert.equal(answer.status, 400, bad);
      assert.equal(answer.json.status, false);
      assert.match(answer.json.message, /^Invalid /);
    }

    const one = await api(baseUrl, "GET", `/refund/${first.json.data[0].id}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.message, "Refund retrieved");
    assert.deepEqual(one.json.data, first.json.data[0]);
    for (const missing of ["/refund/424242424", "/refund/abc"]) {
      const answer = await api(baseUrl, "GET", missing);
      assert.equal(answer.status, 404);
      assert.deepEqual(answer.json, { status: false, message: "Refund not found" });
    }
    assert.equal(sandbox.stats.calls.refund_list, 11);
    assert.equal(sandbox.stats.calls.refund_fetch, 3);
  }, { timers: clock, refundSchedule: SCHEDULE });
});

Deno.test("the refund routes refuse a wrong or missing bearer with Paystack's 401", async () => {
  await withSandbox(async ({ baseUrl }) => {
    for (const [method, path] of [["GET", "/refund"], ["GET", "/refund/1"], ["POST", "/refund"]] as const) {
      for (const headers of [{}, { Authorization: "Bearer sk_test_wrong" }]) {
        const answer = await api(baseUrl, method, path, method === "POST" ? { transaction: "x" } : undefined, headers);
        assert.equal(answer.status, 401, `${method} ${path}`);
        assert.deepEqual(answer.json, { status: false, message: "Invalid key" });
      }
    }
  });
});

Deno.test("refund faults over HTTP: refund_outcome and refund_lose_answer are validated, listed and reset", async () => {
  await withSandbox(async ({ provider, baseUrl }) => {
    const set = await api(baseUrl, "POST", "/_sandbox/faults", [
      { action: "refund_outcome", outcome: "failed", reference: "order-1", times: 2 },
      { action: "refund_outcome", outcome: "needs-attention" },
      { action: "refund_lose_answer", times: 3, ms: 250 },
    ]);
    assert.equal(set.status, 200);
    assert.deepEqual(set.json.data.refundOutcome, [
      { reference: "order-1", remaining: 2, outcome: "failed" },
      { reference: null, remaining: 1, outcome: "needs-attention" },
    ]);
    assert.deepEqual(set.json.data.refundAnswerLoss, { remaining: 3, ms: 250 });
    assert.equal((await api(baseUrl, "GET", "/_sandbox/faults")).json.data.apiDelayMs.refund_list, 0);

    for (
      const [bad, field] of [
        [{ action: "refund_outcome", outcome: "processed" }, "outcome"],
        [{ action: "refund_outcome" }, "outcome"],
        [{ action: "refund_outcome", outcome: "failed", reference: "has space" }, "reference"],
        [{ action: "refund_lose_answer", times: 0 }, "times"],
        [{ action: "refund_lose_answer", ms: 120_001 }, "ms"],
      ] as const
    ) {
      const answer = await api(baseUrl, "POST", "/_sandbox/faults", bad);
      assert.equal(answer.status, 400, JSON.stringify(bad));
      assert.match(answer.json.message, new RegExp(`^Invalid fault command: ${field}: `));
    }

    const reset = await api(baseUrl, "POST", "/_sandbox/faults", { action: "reset" });
    assert.deepEqual([reset.json.data.refundOutcome, reset.json.data.refundAnswerLoss], [[], { remaining: 0, ms: 0 }]);

    // Set over HTTP, the lost answer reaches an HTTP client as a 504.
    const { reference } = await paid(provider, 2_000);
    await api(baseUrl, "POST", "/_sandbox/faults", { action: "refund_lose_answer" });
    const lost = await api(baseUrl, "POST", "/refund", { transaction: reference, amount: 500 });
    assert.deepEqual([lost.status, lost.json], [504, {
      status: false,
      message: "Gateway timeout (sandbox lost the answer)",
    }]);
    assert.equal((await provider.listRefunds({ transaction: reference })).length, 1);
  });
});

Deno.test("a restarted sandbox resumes the refunds still in flight", async () => {
  const db = await createTestDatabase({ migrated: false, max: 4 });
  const receiver = startReceiver();
  try {
    await ensureSandboxSchema(db.db);
    const firstClock = new ManualClock();
    const first = serveSandbox(db, { webhookUrl: receiver.url, timers: firstClock, refundSchedule: SCHEDULE });
    let refundId: string;
    let reference: string;
    try {
      const provider = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: first.baseUrl });
      ({ reference } = await paid(provider, 3_000));
      refundId = (await provider.refund(refundOf(reference, 3_000))).refundId;
      await advance(firstClock, first.sandbox, SCHEDULE.pendingMs);
      assert.equal((await provider.fetchRefund(refundId)).status, "processing");
    } finally {
      await first.close();
    }
    assert.equal(firstClock.pending, 0, "close() cancels the steps still waiting");

    const clock = new ManualClock();
    const second = serveSandbox(db, { webhookUrl: receiver.url, timers: clock, refundSchedule: SCHEDULE });
    try {
      const provider = createPaystackProvider({ secretKey: SANDBOX_SECRET_KEY, baseUrl: second.baseUrl });
      // Its first request readies the sandbox, which schedules the refund's next step.
      assert.equal((await provider.fetchRefund(refundId)).status, "processing");
      assert.equal(clock.pending, 1);
      await advance(clock, second.sandbox, SCHEDULE.processingMs);
      assert.equal((await provider.fetchRefund(refundId)).status, "processed");
      assert.deepEqual(refundEvents(receiver.received, reference).map((w) => w.json.event), [
        "refund.pending",
        "refund.processing",
        "refund.processed",
      ]);
    } finally {
      await second.close();
    }
  } finally {
    await receiver.close();
    await db.close();
  }
});

Deno.test("ensureSandboxSchema() upgrades a refunds table made before refunds progressed, without stacking its check", async () => {
  const db = await createTestDatabase({ migrated: false, max: 2 });
  try {
    await ensureSandboxSchema(db.db);
    await db.db.exec(`
      alter table sandbox_paystack.refunds drop column outcome, drop column processor_reference, drop column updated_at;
      alter table sandbox_paystack.refunds drop constraint refunds_status_check;
      alter table sandbox_paystack.refunds add constraint refunds_status_check check (status in ('pending', 'processed'));
    `);
    await ensureSandboxSchema(db.db);
    await ensureSandboxSchema(db.db);
    const columns = await db.db.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_schema = 'sandbox_paystack' and table_name = 'refunds'
          and column_name in ('outcome', 'processor_reference', 'updated_at')
        order by 1`,
    );
    assert.deepEqual(columns.map((r) => r.column_name), ["outcome", "processor_reference", "updated_at"]);
    const checks = await db.db.query<{ def: string }>(
      `select pg_get_constraintdef(oid) as def from pg_constraint
        where conrelid = 'sandbox_paystack.refunds'::regclass and conname = 'refunds_status_check'`,
    );
    assert.equal(checks.length, 1);
    assert.match(checks[0]!.def, /needs-attention/);
  } finally {
    await db.close();
  }
});

Deno.test("the refund schedule: the default, SANDBOX_REFUND_SCHEDULE_MS, and out-of-range waits refused", async () => {
  assert.deepEqual(refundSchedule({}), DEFAULT_REFUND_SCHEDULE);
  assert.deepEqual(refundSchedule({ SANDBOX_REFUND_SCHEDULE_MS: " 0, 250 " }), { pendingMs: 0, processingMs: 250 });
  for (const bad of ["1000", "1,2,3", "-1,5", "a,b"]) {
    assert.throws(() => refundSchedule({ SANDBOX_REFUND_SCHEDULE_MS: bad }), Error, bad);
  }
  const db = await createTestDatabase({ migrated: false, max: 1 });
  try {
    for (const schedule of [{ pendingMs: -1, processingMs: 0 }, { pendingMs: 0, processingMs: 1.5 }]) {
      assert.throws(() => createSandboxPaystack({ db: db.db, refundSchedule: schedule, log: () => {} }), RangeError);
    }
  } finally {
    await db.close();
  }
});

// --- The adapter against answers that are not the sandbox's -----------------------------------------------

/** An adapter over a scripted fetch: each call gets the next answer and is recorded. */
function scripted(answers: Array<{ status?: number; body: unknown }>): { provider: PaymentProvider; urls: URL[] } {
  const urls: URL[] = [];
  const fetch = (input: string | URL | Request) => {
    urls.push(new URL(input instanceof Request ? input.url : String(input)));
    const next = answers.shift();
    if (next === undefined) throw new Error(`Unscripted request: ${input}`);
    return Promise.resolve(
      new Response(JSON.stringify(next.body), {
        status: next.status ?? 200,
        headers: { "Content-Type": "application/json" },
      }),
    );
  };
  return {
    provider: createPaystackProvider({ secretKey: "sk_test_x", baseUrl: "https://api.paystack.test", fetch }),
    urls,
  };
}

/** A refund row as Paystack's API reference samples of fetch and list show it: the transaction by id only. */
function row(id: number, transaction: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    integration: 100_982,
    transaction,
    dispute: null,
    settlement: null,
    id,
    domain: "test",
    currency: "NGN",
    amount: 1_500,
    status: "processed",
    refunded_at: null,
    refunded_by: "ops@example.ng",
    customer_note: "Refund",
    merchant_note: `refund:${id}`,
    deducted_amount: 1_500,
    fully_deducted: true,
    createdAt: "2026-11-20T10:00:00.000Z",
    ...overrides,
  };
}

const verified = (reference: string, id: number) => ({
  body: {
    status: true,
    message: "Verification successful",
    data: { id, status: "success", reference, amount: 9_000, currency: "NGN" },
  },
});

Deno.test("listRefunds() reads every page Paystack announces, drops rows of other transactions, and copes without meta", async () => {
  const page = (rows: unknown[], meta?: unknown) => ({
    body: { status: true, message: "Refunds retrieved", data: rows, ...(meta ? { meta } : {}) },
  });
  const paged = scripted([
    verified("order-9", 41),
    page([row(3, 41), row(99, 77)], { total: 3, skipped: 0, perPage: "2", page: 1, pageCount: 2 }),
    page([row(2, 41)], { total: 3, skipped: 2, perPage: "2", page: 2, pageCount: 2 }),
  ]);
  const refunds = await paged.provider.listRefunds({ transaction: "order-9" });
  assert.deepEqual(refunds.map((r) => r.refundId), ["3", "2"], "a row of transaction 77 is never taken for ours");
  assert.deepEqual(refunds.map((r) => r.transactionReference), ["order-9", "order-9"]);
  assert.deepEqual(refunds.map((r) => r.merchantNote), ["refund:3", "refund:2"]);
  assert.deepEqual(paged.urls.map((u) => u.pathname), ["/transaction/verify/order-9", "/refund", "/refund"]);
  assert.deepEqual(
    paged.urls.slice(1).map((u) => Object.fromEntries(u.searchParams)),
    [{ transaction: "41", perPage: "100", page: "1" }, { transaction: "41", perPage: "100", page: "2" }],
  );

  // The API reference's sample of this listing has no meta: a short page is the last.
  const bare = scripted([page([row(5, 41, { status: "pending" })])]);
  const [only] = await bare.provider.listRefunds({ transaction: "41" });
  assert.deepEqual([only?.refundId, only?.status, only?.transactionReference], ["5", "pending", null]);

  const full = Array.from({ length: 100 }, (_, i) => row(1_000 + i, 41));
  const endless = scripted([page(full), page(full)]);
  await rejectsWith(() => endless.provider.listRefunds({ transaction: "41" }), "invalid_response");

  await rejectsWith(
    () =>
      scripted([{ status: 404, body: { status: false, message: "Entity not found" } }]).provider
        .listRefunds({ transaction: "41" }),
    "not_found",
    { httpStatus: 404 },
  );
  await rejectsWith(
    () => scripted([page([row(1, 41, { status: "refunded" })])]).provider.listRefunds({ transaction: "41" }),
    "invalid_response",
  );
  await rejectsWith(
    () => scripted([{ body: { status: true, data: { id: 41 } } }]).provider.listRefunds({ transaction: "order-9" }),
    "invalid_response",
  );
});

Deno.test("refund() and fetchRefund() refuse answers about another refund or transaction, or in an unknown status", async () => {
  const created = (overrides: Record<string, unknown>) => ({
    body: {
      status: true,
      message: "Refund has been queued for processing",
      data: {
        transaction: { id: 41, reference: "order-9" },
        id: 3_018_284,
        status: "pending",
        amount: 1_500,
        currency: "ngn",
        merchant_note: "refund:1",
        ...overrides,
      },
    },
  });
  const input = refundOf("order-9", 1_500, { merchantNote: "refund:1" });
  const ok = await scripted([created({})]).provider.refund(input);
  assert.deepEqual(
    [ok.refundId, ok.status, ok.amount, ok.currency, ok.transactionReference, ok.merchantNote],
    ["3018284", "pending", 1_500, "NGN", "order-9", "refund:1"],
  );
  const byId = await scripted([created({})]).provider.refund({ ...input, transaction: "41" });
  assert.equal(byId.transactionReference, "order-9");
  await rejectsWith(
    () => scripted([created({ transaction: { id: 42, reference: "order-10" } })]).provider.refund(input),
    "invalid_response",
  );
  await rejectsWith(() => scripted([created({ status: "reversed" })]).provider.refund(input), "invalid_response");
  await rejectsWith(() => scripted([created({ id: undefined })]).provider.refund(input), "invalid_response");
  await rejectsWith(
    () =>
      scripted([{ status: 400, body: { status: false, message: "Transaction has been fully reversed" } }]).provider
        .refund(input),
    "rejected",
    { httpStatus: 400, providerMessage: /fully reversed/ },
  );
  await rejectsWith(
    () => scripted([{ status: 502, body: { status: false, message: "Bad gateway" } }]).provider.refund(input),
    "unavailable",
    { httpStatus: 502 },
  );

  const fetched = await scripted([{ body: { status: true, message: "Refund retrieved", data: row(7, 41) } }]).provider
    .fetchRefund("7");
  assert.deepEqual([fetched.refundId, fetched.status, fetched.transactionReference], ["7", "processed", null]);
  const named = await scripted([{
    body: { status: true, data: row(7, 41, { transaction_reference: "order-9", status: "needs-attention" }) },
  }]).provider.fetchRefund("7");
  assert.deepEqual([named.status, named.transactionReference], ["needs-attention", "order-9"]);
  await rejectsWith(
    () => scripted([{ body: { status: true, data: row(8, 41) } }]).provider.fetchRefund("7"),
    "invalid_response",
  );
  await rejectsWith(
    () => scripted([{ status: 404, body: { status: false, message: "Refund not found" } }]).provider.fetchRefund("7"),
    "not_found",
    { httpStatus: 404 },
  );
});
