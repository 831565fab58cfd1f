/**
 * The provider-window pass without services: the paging loop, the
 * classification of each provider success, the report, and the cursor
 * arithmetic of the scheduled pass, over a provider and a store faked in
 * memory (the real stack runs in tests/payments/provider_reconcile_test.ts).
 */
import assert from "node:assert/strict";
import { AppError } from "../../src/errors.ts";
import { createLogger, type Logger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import {
  type ListedTransaction,
  type ListTransactionsQuery,
  ProviderError,
  type TransactionPage,
} from "../../src/payments/payment_provider.ts";
import type {
  Payment,
  ProviderReconciliationCursor,
  ProviderReferenceResolution,
} from "../../src/payments/payment_store.ts";
import type { SettleInput, SettleResult } from "../../src/payments/settle_payment.ts";
import {
  createReconcileProviderWindow,
  PROVIDER_RECONCILE_ACTOR,
  type ProviderWindow,
  type ProviderWindowSummary,
} from "../../src/payments/reconcile_provider_window.ts";
import {
  createReconcileProvider,
  DEFAULT_LATE_SUCCESS_MS,
  DEFAULT_OVERLAP_MS,
  DEFAULT_SINCE_MS,
} from "../../src/payments/reconcile_provider.ts";

const HOUR = 3_600_000;

function listed(reference: string, overrides: Partial<ListedTransaction> = {}): ListedTransaction {
  return {
    reference,
    status: "success",
    amount: 5_000,
    requestedAmount: 5_000,
    fees: 75,
    currency: "NGN",
    paidAt: "2026-11-28T07:00:00.000Z",
    createdAt: "2026-11-28T06:59:00.000Z",
    gatewayResponse: "Successful",
    providerTransactionId: "4000000001",
    raw: { reference },
    ...overrides,
  };
}

/** A provider holding `items` (newest first), paging them like Paystack: offset pages, pageCount, total. */
function fakeProvider(items: ListedTransaction[], { failOnPage }: { failOnPage?: number } = {}) {
  const queries: ListTransactionsQuery[] = [];
  return {
    name: "paystack",
    queries,
    listTransactions(query: ListTransactionsQuery): Promise<TransactionPage> {
      queries.push(query);
      if (query.page === failOnPage) {
        return Promise.reject(new ProviderError("unavailable", "Paystack list failed: HTTP 503", { httpStatus: 503 }));
      }
      const start = (query.page - 1) * query.perPage;
      return Promise.resolve({
        items: items.slice(start, start + query.perPage),
        page: query.page,
        perPage: query.perPage,
        pageCount: Math.ceil(items.length / query.perPage),
        total: items.length,
      });
    },
  };
}

function payment(reference: string): Payment {
  return { reference } as Payment;
}

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { logger: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) }), lines };
}

const WINDOW: ProviderWindow = { from: "2026-11-28T00:00:00.000Z", to: "2026-11-28T08:00:00.000Z" };

Deno.test("reconcileProviderWindow() pages through every page and checks each success once", async () => {
  const items = Array.from({ length: 7 }, (_, i) => listed(`pay-${i}`));
  const provider = fakeProvider(items);
  const resolved = new Set<string>();
  const reconcile = createReconcileProviderWindow({
    provider,
    store: {
      resolveProviderReference(reference) {
        resolved.add(reference);
        return Promise.resolve({
          outcome: "credited",
          payment: payment(reference),
          credits: 1,
          creditedProviderReference: reference,
        });
      },
    },
    settle: () => Promise.reject(new Error("nothing to settle")),
    logger: capture().logger,
    metrics: createMetrics(),
    perPage: 3,
  });
  const summary = await reconcile(WINDOW);
  assert.deepEqual(provider.queries.map((q) => [q.page, q.perPage, q.status, q.from, q.to]), [
    [1, 3, "success", WINDOW.from, WINDOW.to],
    [2, 3, "success", WINDOW.from, WINDOW.to],
    [3, 3, "success", WINDOW.from, WINDOW.to],
  ]);
  assert.equal(summary.pages, 3);
  assert.equal(summary.seen, 7);
  assert.equal(summary.already_credited, 7);
  assert.equal(summary.complete, true);
  assert.deepEqual(summary.findings, []);
  assert.equal(resolved.size, 7);
});

Deno.test("reconcileProviderWindow() checks an item repeated by a shifting listing once, and skips non-successes", async () => {
  // Page 2 starts with the last item of page 1 again: a success was inserted while paging.
  const items = [
    listed("pay-a"),
    listed("pay-b"),
    listed("pay-b"),
    listed("pay-c"),
    listed("pay-x", { status: "reversed" }),
  ];
  const calls: string[] = [];
  const reconcile = createReconcileProviderWindow({
    provider: fakeProvider(items),
    store: {
      resolveProviderReference(reference) {
        calls.push(reference);
        return Promise.resolve({
          outcome: "credited",
          payment: payment(reference),
          credits: 1,
          creditedProviderReference: null,
        });
      },
    },
    settle: () => Promise.reject(new Error("nothing to settle")),
    logger: capture().logger,
    metrics: createMetrics(),
    perPage: 2,
  });
  const summary = await reconcile(WINDOW);
  assert.equal(summary.pages, 3);
  assert.equal(summary.seen, 3);
  assert.deepEqual(calls.sort(), ["pay-a", "pay-b", "pay-c"]);
});

Deno.test("reconcileProviderWindow() classifies each success, settles what is owed, reports the rest", async () => {
  const resolutions: Record<string, ProviderReferenceResolution[]> = {
    "pay-fine": [{
      outcome: "credited",
      payment: payment("pay-fine"),
      credits: 1,
      creditedProviderReference: "pay-fine",
    }],
    "pay-owed.r2": [{ outcome: "not_credited", payment: payment("pay-owed"), credits: 0 }],
    "pay-tampered": [{ outcome: "mismatch", payment: payment("pay-tampered"), credits: 0 }],
    "T0123456789": [{ outcome: "unknown_reference" }],
    "pay-twice": [{
      outcome: "credited",
      payment: payment("pay-twice"),
      credits: 1,
      creditedProviderReference: "pay-twice.r2",
    }],
    "pay-busy": [{ outcome: "not_credited", payment: payment("pay-busy"), credits: 0 }],
    "pay-pending": [
      { outcome: "not_credited", payment: payment("pay-pending"), credits: 0 },
      { outcome: "not_credited", payment: payment("pay-pending"), credits: 0 },
    ],
    "pay-raced": [
      { outcome: "not_credited", payment: payment("pay-raced"), credits: 0 },
      { outcome: "credited", payment: payment("pay-raced"), credits: 1, creditedProviderReference: "pay-raced" },
    ],
    "pay-broken": [{
      outcome: "credited",
      payment: payment("pay-broken"),
      credits: 2,
      creditedProviderReference: null,
    }],
  };
  const items = [...Object.keys(resolutions), "pay-db-down"].map((reference) => listed(reference));
  const settled: SettleInput[] = [];
  const settleAnswers: Record<string, SettleResult> = {
    "pay-owed": { kind: "done", payment: payment("pay-owed"), outcome: "credited" },
    "pay-busy": { kind: "locked" },
    "pay-pending": { kind: "done", payment: payment("pay-pending"), outcome: "unchanged" },
    "pay-raced": { kind: "done", payment: payment("pay-raced"), outcome: "already_credited" },
  };
  const { logger, lines } = capture();
  const metrics = createMetrics();
  const reconcile = createReconcileProviderWindow({
    provider: fakeProvider(items),
    store: {
      resolveProviderReference(reference) {
        const next = resolutions[reference]?.shift();
        return next ? Promise.resolve(next) : Promise.reject(new AppError("database_unavailable"));
      },
    },
    settle(input) {
      settled.push(input);
      return Promise.resolve(settleAnswers[input.reference]!);
    },
    logger,
    metrics,
  });

  const summary: ProviderWindowSummary = await reconcile(WINDOW);
  const { findings, ...counts } = summary;
  assert.deepEqual(counts, {
    provider: "paystack",
    from: WINDOW.from,
    to: WINDOW.to,
    pages: 1,
    seen: 10,
    already_credited: 2,
    credited_now: 1,
    mismatches: 1,
    unknown_references: 1,
    double_paid: 1,
    unconfirmed: 1,
    locked: 1,
    errors: 2,
    complete: false,
  });
  // Settled through the normal credit path, with the provider reference the provider listed.
  assert.deepEqual(
    settled.map((s) => [s.reference, s.providerReference, s.actor]).sort(),
    [
      ["pay-busy", "pay-busy", PROVIDER_RECONCILE_ACTOR],
      ["pay-owed", "pay-owed.r2", PROVIDER_RECONCILE_ACTOR],
      ["pay-pending", "pay-pending", PROVIDER_RECONCILE_ACTOR],
      ["pay-raced", "pay-raced", PROVIDER_RECONCILE_ACTOR],
    ],
  );
  assert.deepEqual(
    findings.map((f) => [f.provider_reference, f.reference, f.finding]).sort(),
    [
      ["T0123456789", null, "unknown_reference"],
      ["pay-broken", "pay-broken", "error"],
      ["pay-busy", "pay-busy", "locked"],
      ["pay-db-down", null, "error"],
      ["pay-owed.r2", "pay-owed", "credited_now"],
      ["pay-pending", "pay-pending", "unconfirmed"],
      ["pay-tampered", "pay-tampered", "mismatch"],
      ["pay-twice", "pay-twice", "double_paid"],
    ],
  );
  // One log line per finding, at warn (error for errors); none for the already credited.
  const perReference = (reference: string) => lines.filter((l) => l.provider_reference === reference);
  assert.equal(perReference("pay-fine").length, 0);
  assert.equal(perReference("pay-raced").length, 0);
  for (const reference of ["pay-owed.r2", "pay-tampered", "T0123456789", "pay-twice", "pay-busy", "pay-pending"]) {
    assert.deepEqual(perReference(reference).map((l) => l.level), ["warn"], reference);
  }
  assert.deepEqual(perReference("pay-db-down").map((l) => l.level), ["error"]);
  assert.equal(lines.at(-1)?.msg, "provider reconciliation window");
  assert.equal(lines.at(-1)?.level, "warn");
  const metric = (finding: string) =>
    metrics.get("provider_reconciliation_transactions_total", { provider: "paystack", finding });
  assert.deepEqual(
    ["already_credited", "credited_now", "mismatch", "unknown_reference", "double_paid", "error"].map(metric),
    [2, 1, 1, 1, 1, 2],
  );
  assert.equal(metrics.get("provider_reconciliation_passes_total", { provider: "paystack", result: "incomplete" }), 1);
});

Deno.test("reconcileProviderWindow(): a listing failure is provider_unavailable; an endless listing is cut, incomplete", async () => {
  const credited = (reference: string): Promise<ProviderReferenceResolution> =>
    Promise.resolve({
      outcome: "credited",
      payment: payment(reference),
      credits: 1,
      creditedProviderReference: reference,
    });
  const deps = {
    store: { resolveProviderReference: credited },
    settle: () => Promise.reject(new Error("nothing to settle")),
    logger: capture().logger,
    metrics: createMetrics(),
    perPage: 1,
  };
  const items = [listed("pay-1"), listed("pay-2"), listed("pay-3")];
  await assert.rejects(
    createReconcileProviderWindow({ ...deps, provider: fakeProvider(items, { failOnPage: 2 }) })(WINDOW),
    (error) => error instanceof AppError && error.code === "provider_unavailable",
  );
  const cut = await createReconcileProviderWindow({ ...deps, provider: fakeProvider(items), maxPages: 2 })(WINDOW);
  assert.equal(cut.pages, 2);
  assert.equal(cut.seen, 2);
  assert.equal(cut.complete, false);
});

/** A cursor store in memory, moving forward only, as the SQL does. */
function cursorStore(initial: string | null = null) {
  let cursor: ProviderReconciliationCursor | null = initial === null
    ? null
    : { provider: "paystack", checkedUntil: initial, updatedAt: initial };
  return {
    get current() {
      return cursor?.checkedUntil ?? null;
    },
    getProviderReconciliationCursor: () => Promise.resolve(cursor),
    advanceProviderReconciliationCursor(provider: string, checkedUntil: string) {
      const kept = cursor && Date.parse(cursor.checkedUntil) > Date.parse(checkedUntil)
        ? cursor.checkedUntil
        : checkedUntil;
      cursor = { provider, checkedUntil: kept, updatedAt: checkedUntil };
      return Promise.resolve(cursor);
    },
  };
}

function windowsRecorder(incomplete: (w: ProviderWindow) => boolean = () => false) {
  const windows: ProviderWindow[] = [];
  return {
    windows,
    reconcileWindow(window: ProviderWindow): Promise<ProviderWindowSummary> {
      windows.push(window);
      return Promise.resolve({
        provider: "paystack",
        ...window,
        pages: 1,
        seen: 1,
        already_credited: incomplete(window) ? 0 : 1,
        credited_now: 0,
        mismatches: 0,
        unknown_references: 0,
        double_paid: 0,
        unconfirmed: 0,
        locked: 0,
        errors: incomplete(window) ? 1 : 0,
        complete: !incomplete(window),
        findings: [],
      });
    },
  };
}

Deno.test("reconcileProvider(): the first pass looks back 48h in day-long windows, the next continues from the cursor minus the overlap", async () => {
  let now = Date.parse("2026-11-28T08:00:00.000Z");
  const clock = { now: () => now };
  const store = cursorStore();
  const recorder = windowsRecorder();
  const pass = createReconcileProvider({
    provider: { name: "paystack" },
    store,
    reconcileWindow: recorder.reconcileWindow,
    clock,
    logger: capture().logger,
    // The cursor alone (the 48 h re-listing has a test of its own, below).
    lateSuccessMs: 0,
  });

  const first = await pass();
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.deepEqual(recorder.windows, [
    { from: iso(now - DEFAULT_SINCE_MS), to: iso(now - DEFAULT_SINCE_MS + 24 * HOUR) },
    { from: iso(now - 24 * HOUR), to: iso(now) },
  ]);
  assert.deepEqual(first.cursor, { before: null, after: iso(now) });
  assert.equal(first.windows, 2);
  assert.equal(first.seen, 2);
  assert.equal(first.complete, true);

  const end = now;
  now += HOUR;
  recorder.windows.length = 0;
  const second = await pass();
  assert.deepEqual(recorder.windows, [{ from: iso(end - DEFAULT_OVERLAP_MS), to: iso(now) }]);
  assert.deepEqual(second.cursor, { before: iso(end), after: iso(now) });
  assert.equal(store.current, iso(now));
});

Deno.test("reconcileProvider(): the cursor stops before an incomplete window or a gap; it never moves back", async () => {
  const now = Date.parse("2026-11-28T08:00:00.000Z");
  const iso = (ms: number) => new Date(ms).toISOString();
  const store = cursorStore(iso(now - 72 * HOUR));
  // The middle of three windows has a problem.
  const recorder = windowsRecorder((w) => w.from === iso(now - 48 * HOUR - DEFAULT_OVERLAP_MS));
  const pass = createReconcileProvider({
    provider: { name: "paystack" },
    store,
    reconcileWindow: recorder.reconcileWindow,
    clock: { now: () => now },
    logger: capture().logger,
  });
  const summary = await pass();
  assert.equal(recorder.windows.length, 4);
  assert.equal(summary.complete, false);
  assert.equal(summary.errors, 1);
  // Windows after the incomplete one were checked, but the cursor waits at the end of the last complete prefix.
  assert.equal(store.current, iso(now - 48 * HOUR - DEFAULT_OVERLAP_MS));

  const rescan = (sinceMs: number) =>
    createReconcileProvider({
      provider: { name: "paystack" },
      store,
      reconcileWindow: windowsRecorder().reconcileWindow,
      clock: { now: () => now },
      logger: capture().logger,
      maxWindowMs: 12 * HOUR,
    })({ sinceMs });
  // A re-scan of the last 2 hours leaves a gap after the cursor: it does not move.
  const recent = await rescan(2 * HOUR);
  assert.equal(recent.from, iso(now - 2 * HOUR));
  assert.equal(recent.windows, 1);
  assert.equal(recent.complete, false);
  assert.equal(store.current, iso(now - 48 * HOUR - DEFAULT_OVERLAP_MS));
  // One reaching back past the cursor checks the gap: the cursor reaches now.
  const wide = await rescan(49 * HOUR);
  assert.equal(wide.windows, 5);
  assert.equal(wide.complete, true);
  assert.equal(store.current, iso(now));
  // A re-scan of an older stretch never moves it back.
  await rescan(72 * HOUR);
  assert.equal(store.current, iso(now));
});

Deno.test("reconcileProvider(): every pass re-lists the last 48 h by creation date, for checkouts paid late; the cursor only moves forward", async () => {
  let now = Date.parse("2026-11-28T08:00:00.000Z");
  const iso = (ms: number) => new Date(ms).toISOString();
  const store = cursorStore(iso(now - HOUR));
  const recorder = windowsRecorder();
  const pass = createReconcileProvider({
    provider: { name: "paystack" },
    store,
    reconcileWindow: recorder.reconcileWindow,
    clock: { now: () => now },
    logger: capture().logger,
  });
  const summary = await pass();
  assert.equal(DEFAULT_LATE_SUCCESS_MS, 48 * HOUR);
  assert.deepEqual(recorder.windows, [
    { from: iso(now - 48 * HOUR), to: iso(now - 24 * HOUR) },
    { from: iso(now - 24 * HOUR), to: iso(now) },
  ]);
  assert.deepEqual(summary.cursor, { before: iso(now - HOUR), after: iso(now) });

  // An hour later: the same 48 h back, not just the last hour and the overlap.
  now += HOUR;
  recorder.windows.length = 0;
  await pass();
  assert.equal(recorder.windows[0]?.from, iso(now - 48 * HOUR));
  assert.equal(recorder.windows.at(-1)?.to, iso(now));
  assert.equal(store.current, iso(now));

  // A cursor older than 48 h (an outage) still starts from the cursor minus the overlap.
  const behind = cursorStore(iso(now - 72 * HOUR));
  const caughtUp = createReconcileProvider({
    provider: { name: "paystack" },
    store: behind,
    reconcileWindow: windowsRecorder().reconcileWindow,
    clock: { now: () => now },
    logger: capture().logger,
  });
  assert.equal((await caughtUp()).from, iso(now - 72 * HOUR - DEFAULT_OVERLAP_MS));
});
