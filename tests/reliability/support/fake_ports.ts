/**
 * In-memory fakes of the ports the use cases run on (PaymentStore,
 * LockService, PaymentProvider), for exploring interleavings under
 * fast-check's scheduler. Every call awaits `gate(label)` before it acts
 * (the request in flight) and again before it answers (the answer in
 * flight), so the scheduler decides the order of every awaited step; each
 * store call then acts atomically, as one SQL function is one transaction.
 *
 * The store models the SQL functions' rules (docs/database.md): the row lock
 * (an atomic step), the fencing rule (PM003 → `stale_fence`), the state
 * machine with late successes, the amount comparison, one credit per
 * payment (a second one throws, as the unique index would), webhook events
 * marked processed only with their effect, refunds reserved then applied
 * once. The lock models leases that a test can end early (a holder paused
 * past its lease) and a Redis that loses everything (the fence counter
 * starts again at 0).
 *
 * @module
 */
import { AppError } from "../../../src/errors.ts";
import type { LockHandle, LockService } from "../../../src/lock/lock_service.ts";
import type { Payment } from "../../../src/payments/payment.ts";
import {
  type PaymentProvider,
  ProviderError,
  type ProviderTransactionStatus,
  type RefundResult,
  type VerifyResult,
} from "../../../src/payments/payment_provider.ts";
import type { PaymentStore, WebhookEventOutcome } from "../../../src/payments/payment_store.ts";
import type { Refund, RefundStatusUpdate } from "../../../src/payments/refund.ts";

/** Lets the scheduler order one step; `label` names it in a failing schedule's report. */
export type Gate = (label: string) => Promise<unknown>;

const NOW = Date.parse("2026-11-28T12:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

/** The clock every fake and use case reads. */
export const fakeClock = { now: () => NOW };

interface PaymentRow {
  id: string;
  user_id: string;
  reference: string;
  amount: number;
  currency: string;
  state: Payment["state"];
  failure_reason: string | null;
  last_fence: number | null;
  lock_version: number;
  refunded_amount: number;
  created_at: string;
  transitions: Payment["state_transitions"];
}

interface EventRow {
  id: string;
  /** What the store keeps to hand an open event back (openSuccessEvents). */
  stored: { provider: string; eventKey: string; eventType: string; payload: unknown } | null;
  reference: string | null;
  processed: boolean;
  outcome: WebhookEventOutcome | null;
  attempts: number;
}

interface RefundRow extends Refund {
  claimedAt: number | null;
  requestKey: string;
}

/** What the store has seen, for the figures. */
export interface StoreCounts {
  calls: number;
  staleFences: number;
  credits: number;
  lateSuccesses: number;
}

/** The store and its state, for the property's checks. */
export interface FakeStore {
  store: PaymentStore;
  payments: Map<string, PaymentRow>;
  /** Ledger entries: type, payment id (credits) or refund id (refunds), amount. */
  ledger: Array<{ type: "credit" | "refund"; ref: string; amount: number; currency: string; userId: string }>;
  wallets: Map<string, { balance: number; held: number }>;
  events: Map<string, EventRow>;
  refunds: Map<string, RefundRow>;
  counts: StoreCounts;
}

const isMismatch = (reason: string | null) => reason?.startsWith("amount_mismatch:") ?? false;
const isSettled = (p: PaymentRow) =>
  p.state === "completed" || p.state === "refunded" || (p.state === "failed" && isMismatch(p.failure_reason));

function _payment(p: PaymentRow): Payment {
  return {
    id: p.id,
    user_id: p.user_id,
    reference: p.reference,
    provider_reference: p.reference,
    provider: "paystack",
    amount: p.amount,
    currency: p.currency,
    email: null,
    metadata: {},
    state: p.state,
    settled: isSettled(p),
    state_transitions: structuredClone(p.transitions),
    lock_version: p.lock_version,
    refunded_amount: p.refunded_amount,
    failure_reason: p.failure_reason,
    authorization_url: null,
    access_code: null,
    processing_started_at: null,
    processing_completed_at: null,
    created_at: p.created_at,
    updated_at: iso(NOW),
  };
}

/** A store whose methods not modelled here throw, so a use case reaching one fails loudly. */
function _strict<T extends object>(impl: Partial<T>, name: string): T {
  return new Proxy(impl, {
    get(target, property) {
      if (property in target) return (target as Record<PropertyKey, unknown>)[property];
      if (property === "then") return undefined;
      return () => Promise.reject(new Error(`${name}.${String(property)} is not modelled by the fake`));
    },
  }) as T;
}

/**
 * The fake store with one payment of `amount` NGN, created `ageMs` ago.
 *
 * @param gate The scheduler's gate (or an immediate one).
 */
export function createFakeStore(
  gate: () => Gate,
  { reference, userId, amount, ageMs }: { reference: string; userId: string; amount: number; ageMs: number },
): FakeStore {
  const payments = new Map<string, PaymentRow>();
  payments.set(reference, {
    id: crypto.randomUUID(),
    user_id: userId,
    reference,
    amount,
    currency: "NGN",
    state: "pending",
    failure_reason: null,
    last_fence: null,
    lock_version: 0,
    refunded_amount: 0,
    created_at: iso(NOW - ageMs),
    transitions: [{ from: null, to: "pending", at: iso(NOW - ageMs), actor: "api", reason: "initialize" }],
  });
  const state: FakeStore = {
    store: undefined as unknown as PaymentStore,
    payments,
    ledger: [],
    wallets: new Map(),
    events: new Map(),
    refunds: new Map(),
    counts: { calls: 0, staleFences: 0, credits: 0, lateSuccesses: 0 },
  };
  const wallet = (p: { user_id: string; currency: string }) => {
    const key = `${p.user_id}/${p.currency}`;
    let w = state.wallets.get(key);
    if (!w) state.wallets.set(key, w = { balance: 0, held: 0 });
    return w;
  };
  const move = (p: PaymentRow, to: Payment["state"], actor: string, reason: string | null) => {
    const legal = (p.state === "pending" && (to === "processing" || to === "failed")) ||
      (p.state === "processing" && (to === "completed" || to === "failed")) ||
      (p.state === "completed" && to === "refunded") ||
      (p.state === "failed" && to === "processing" && !isMismatch(p.failure_reason));
    if (!legal) {
      throw new AppError("illegal_transition", { detail: `Cannot move ${p.reference} from ${p.state} to ${to}` });
    }
    p.transitions.push({ from: p.state, to, at: iso(NOW), actor, reason });
    p.state = to;
    p.lock_version++;
  };
  const lockPayment = (reference: string, fence: number | null) => {
    const p = payments.get(reference.split(".r")[0]!);
    if (!p) throw new AppError("payment_not_found");
    applyFence(p, fence);
    return p;
  };
  const applyFence = (p: PaymentRow, fence: number | null) => {
    if (fence === null) return;
    if (p.last_fence !== null && fence < p.last_fence) {
      state.counts.staleFences++;
      throw new AppError("stale_fence", { detail: `Stale fencing token ${fence}: ${p.last_fence} already seen` });
    }
    if (p.last_fence !== fence) {
      p.last_fence = fence;
      p.lock_version++;
    }
  };
  const finishEvent = (eventId: string | null | undefined, outcome: WebhookEventOutcome) => {
    if (!eventId) return;
    const e = state.events.get(eventId);
    if (!e) throw new AppError("validation_failed", { detail: `Webhook event ${eventId} not found` });
    if (!e.processed) {
      e.processed = true;
      e.outcome = outcome;
    }
  };
  /** One SQL function: the request and the answer each cross the network once. */
  const rpc = async <T>(label: string, body: () => T): Promise<T> => {
    state.counts.calls++;
    await gate()(`store.${label}`);
    const result = body();
    await gate()(`store.${label} answered`);
    return structuredClone(result);
  };

  const impl: Partial<PaymentStore> = {
    getPayment: (userId, reference) =>
      rpc(`getPayment ${reference}`, () => {
        const p = payments.get(reference);
        return p && p.user_id === userId ? _payment(p) : null;
      }),
    markProcessing: (reference, { fence, actor, ownerId = null }) =>
      rpc(`markProcessing ${reference} fence=${fence}`, () => {
        const p = payments.get(reference);
        if (!p || (ownerId !== null && p.user_id !== ownerId)) {
          if (ownerId !== null) return null;
          throw new AppError("payment_not_found");
        }
        if (isSettled(p)) return { changed: false, payment: _payment(p) };
        applyFence(p, fence);
        const changed = p.state === "pending";
        if (changed) move(p, "processing", actor, null);
        return { changed, payment: _payment(p) };
      }),
    creditUser: (input) =>
      rpc(`creditUser ${input.reference} fence=${input.fence}`, () => {
        if (input.webhookEventId && !state.events.has(input.webhookEventId)) {
          throw new AppError("validation_failed", { detail: "no such event" });
        }
        const p = lockPayment(input.reference, input.fence);
        let outcome: "credited" | "already_credited" | "mismatch" | "not_creditable";
        let late = false;
        if (p.state === "completed" || p.state === "refunded") outcome = "already_credited";
        else if (p.state === "failed" && isMismatch(p.failure_reason)) outcome = "not_creditable";
        else if (input.amount !== p.amount || input.currency !== p.currency) {
          if (p.state === "pending") move(p, "processing", input.actor, input.reason ?? null);
          const reason = `amount_mismatch: provider confirmed ${input.amount} ${input.currency}`;
          if (p.state === "processing") move(p, "failed", input.actor, reason);
          p.failure_reason = reason;
          outcome = "mismatch";
        } else {
          if (state.ledger.some((e) => e.type === "credit" && e.ref === p.id)) {
            throw new Error(`unique violation: a second credit for ${p.reference}`);
          }
          if (p.state === "failed") {
            late = true;
            move(p, "processing", input.actor, "late_success");
            p.failure_reason = null;
          } else if (p.state === "pending") move(p, "processing", input.actor, input.reason ?? null);
          state.ledger.push({ type: "credit", ref: p.id, amount: p.amount, currency: p.currency, userId: p.user_id });
          wallet(p).balance += p.amount;
          move(p, "completed", input.actor, late ? "late_success" : input.reason ?? null);
          state.counts.credits++;
          if (late) state.counts.lateSuccesses++;
          outcome = "credited";
        }
        finishEvent(input.webhookEventId, outcome);
        return { outcome, credited: outcome === "credited", late_success: late, payment: _payment(p) };
      }),
    failPayment: (input) =>
      rpc(`failPayment ${input.reference} fence=${input.fence}`, () => {
        if (input.webhookEventId && !state.events.has(input.webhookEventId)) {
          throw new AppError("validation_failed", { detail: "no such event" });
        }
        const p = lockPayment(input.reference, input.fence);
        const changed = p.state === "pending" || p.state === "processing";
        if (changed) {
          move(p, "failed", input.actor, input.reason);
          p.failure_reason = input.reason;
        }
        finishEvent(input.webhookEventId, changed ? "failed" : "already_settled");
        return { changed, payment: _payment(p) };
      }),
    recordWebhookEvent: (input) =>
      rpc(`recordWebhookEvent ${input.eventKey} mark=${input.markProcessing} fence=${input.fence}`, () => {
        const key = `${input.provider}/${input.eventKey}`;
        let e = state.events.get(key);
        if (e) e.attempts++;
        else {state.events.set(
            key,
            e = {
              id: key,
              stored: {
                provider: input.provider,
                eventKey: input.eventKey,
                eventType: input.eventType,
                payload: input.payload,
              },
              reference: input.reference,
              processed: false,
              outcome: null,
              attempts: 1,
            },
          );}
        const duplicate = e.attempts > 1;
        const p = input.reference ? payments.get(input.reference.split(".r")[0]!) : undefined;
        if (e.processed) return { eventId: e.id, duplicate, processed: true, payment: p ? _payment(p) : null };
        if (!p) {
          finishEvent(e.id, "unknown_reference");
          return { eventId: e.id, duplicate, processed: true, payment: null };
        }
        if (isSettled(p)) {
          finishEvent(e.id, "already_settled");
          return { eventId: e.id, duplicate, processed: true, payment: _payment(p) };
        }
        if (input.markProcessing) {
          applyFence(p, input.fence);
          if (p.state === "pending") move(p, "processing", "webhook", input.eventType);
        }
        return { eventId: e.id, duplicate, processed: false, payment: _payment(p) };
      }),
    maxFence: () => rpc("maxFence", () => Math.max(0, ...[...payments.values()].map((p) => p.last_fence ?? 0))),
    reconcileCandidates: () =>
      rpc(
        "reconcileCandidates",
        () =>
          [...payments.values()].filter((p) => p.state === "pending" || p.state === "processing").map((p) => ({
            reference: p.reference,
            state: p.state,
            created_at: p.created_at,
            age_seconds: Math.floor((NOW - Date.parse(p.created_at)) / 1000),
          })),
      ),
    refundRequestCandidates: () => rpc("refundRequestCandidates", () => []),
    openSuccessEvents: () =>
      rpc("openSuccessEvents", () =>
        [...state.events.values()].flatMap((e) => {
          if (e.processed || !e.stored || e.stored.eventType !== "charge.success" || !e.reference) return [];
          const p = payments.get(e.reference.split(".r")[0]!);
          return p && !isSettled(p) ? [{ ...e.stored, reference: e.reference }] : [];
        })),
    refundCandidates: () =>
      rpc(
        "refundCandidates",
        () =>
          [...state.refunds.values()].filter((r) => ["pending", "processing", "needs_attention"].includes(r.state))
            .map(_refund),
      ),
    purgeIdempotencyKeys: () => rpc("purgeIdempotencyKeys", () => 0),
    checkLedgerInvariants: () => rpc("checkLedgerInvariants", () => []),
    beginRefund: (input) =>
      rpc(`beginRefund ${input.reference}`, () => {
        const existing = [...state.refunds.values()].find((r) => r.requestKey === input.requestKey);
        if (existing) return { outcome: "existing" as const, refund: _refund(existing) };
        const p = lockPayment(input.reference, null);
        if (p.state !== "completed" && p.state !== "refunded") throw new AppError("payment_not_refundable");
        const inFlight = [...state.refunds.values()].filter((r) =>
          r.payment_reference === p.reference && ["pending", "processing", "needs_attention"].includes(r.state)
        ).reduce((sum, r) => sum + r.amount, 0);
        const remaining = p.amount - p.refunded_amount - inFlight;
        const amount = input.amount ?? remaining;
        if (amount <= 0 || amount > remaining) throw new AppError("refund_exceeds_payment");
        const w = wallet(p);
        if (w.balance - w.held < amount) throw new AppError("insufficient_balance");
        w.held += amount;
        const row: RefundRow = {
          id: crypto.randomUUID(),
          payment_reference: p.reference,
          provider_transaction: p.reference,
          user_id: p.user_id,
          amount,
          currency: p.currency,
          reason: input.reason,
          state: "pending",
          refund_request_id: null,
          provider_refund_id: null,
          provider_status: null,
          failure_reason: null,
          submit_attempts: 0,
          created_at: iso(NOW),
          updated_at: iso(NOW),
          submitted_at: null,
          settled_at: null,
          claimedAt: null,
          requestKey: input.requestKey,
        };
        state.refunds.set(row.id, row);
        return { outcome: "created" as const, refund: _refund(row) };
      }),
    claimRefundSubmission: (id) =>
      rpc(`claimRefundSubmission ${id.slice(0, 8)}`, () => {
        const r = state.refunds.get(id);
        if (!r || r.state !== "pending" || r.claimedAt !== null) {
          return { claimed: false, refund: r ? _refund(r) : null };
        }
        r.claimedAt = NOW;
        r.submit_attempts++;
        return { claimed: true, refund: _refund(r) };
      }),
    releaseRefundClaim: (id) =>
      rpc(`releaseRefundClaim ${id.slice(0, 8)}`, () => {
        const r = state.refunds.get(id);
        if (r) r.claimedAt = null;
      }),
    applyRefundStatus: (input) =>
      rpc(`applyRefundStatus ${input.status}`, () => {
        const r = input.refundId
          ? state.refunds.get(input.refundId)
          : [...state.refunds.values()].find((x) => x.provider_refund_id === input.providerRefundId);
        if (input.event) {
          const key = `${input.event.provider}/${input.event.eventKey}`;
          const e = state.events.get(key) ??
            { id: key, stored: null, reference: null, processed: false, outcome: null, attempts: 0 } satisfies EventRow;
          e.attempts++;
          state.events.set(key, e);
          if (!e.processed) {
            e.processed = true;
            e.outcome = r ? "refund_updated" : "unknown_refund";
          }
        }
        if (!r) return { changed: false, refund: null };
        if (r.state === "processed" || r.state === "failed") return { changed: false, refund: _refund(r) };
        if (input.providerRefundId) r.provider_refund_id = input.providerRefundId;
        const p = payments.get(r.payment_reference)!;
        const w = wallet(p);
        const status: RefundStatusUpdate = input.status;
        if (status === "processed") {
          if (state.ledger.some((e) => e.type === "refund" && e.ref === r.id)) {
            throw new Error(`unique violation: a second ledger entry for refund ${r.id}`);
          }
          state.ledger.push({ type: "refund", ref: r.id, amount: r.amount, currency: r.currency, userId: r.user_id });
          w.balance -= r.amount;
          w.held -= r.amount;
          p.refunded_amount += r.amount;
          if (p.refunded_amount === p.amount) move(p, "refunded", input.actor, "refund");
          r.state = "processed";
        } else if (status === "failed" || status === "rejected") {
          w.held -= r.amount;
          r.state = "failed";
          r.failure_reason = input.failureReason;
        } else if (status === "needs-attention") r.state = "needs_attention";
        else r.state = "processing";
        r.provider_status = status;
        return { changed: true, refund: _refund(r) };
      }),
  };
  state.store = _strict<PaymentStore>(impl, "store");
  return state;
}

function _refund(r: RefundRow): Refund {
  const { claimedAt: _claimed, requestKey: _key, ...rest } = r;
  return structuredClone(rest);
}

/** A lock whose leases the test ends at will, on a Redis that can lose everything. */
export interface FakeLocks extends LockService {
  /** Ends the lease of `key` now, as its expiry would while the holder is paused. */
  expire(key: string): void;
  /** Redis lost everything: leases gone, the fence counter back to 0. */
  reset(): void;
  readonly counts: { acquired: number; contended: number; expired: number; resets: number; advanced: number };
  /** Keys whose lease is held now. */
  held(): string[];
}

/** Creates the fake lock. */
export function createFakeLocks(gate: () => Gate): FakeLocks {
  let counter = 0;
  let tokens = 0;
  const leases = new Map<string, number>();
  const counts = { acquired: 0, contended: 0, expired: 0, resets: 0, advanced: 0 };
  return {
    counts,
    async acquire(key): Promise<LockHandle | null> {
      await gate()(`lock.acquire ${key}`);
      if (leases.has(key)) {
        counts.contended++;
        return null;
      }
      const token = ++tokens;
      const fence = ++counter;
      leases.set(key, token);
      counts.acquired++;
      return {
        key,
        fence,
        degraded: false,
        extend: () => Promise.resolve(leases.get(key) === token),
        async release() {
          await gate()(`lock.release ${key} fence=${fence}`);
          if (leases.get(key) !== token) return false;
          leases.delete(key);
          return true;
        },
      };
    },
    async advanceFence(floor) {
      await gate()(`lock.advanceFence ${floor}`);
      counts.advanced++;
      counter = Math.max(counter, floor);
    },
    status: () => Promise.resolve({ ok: true }),
    held: () => [...leases.keys()],
    expire(key) {
      if (leases.delete(key)) counts.expired++;
    },
    reset() {
      counts.resets++;
      leases.clear();
      counter = 0;
    },
  };
}

/** The provider's side of one transaction, changed by the customer's actions. */
export interface FakeProvider {
  provider: PaymentProvider;
  /** The customer pays (another amount when `amount` is given). */
  pay(amount?: number): void;
  /** The customer declines. */
  decline(): void;
  /** The next `times` verifies answer `ongoing`/`pending`…, whatever the truth. */
  inFlight(times: number): void;
  /** The next `times` verifies fail as an outage. */
  unavailable(times: number): void;
  /** The provider finishes every refund in flight (processed). */
  settleRefunds(): void;
  /** Later: no outage, and the provider's final word on the transaction. */
  calm(): void;
  /** What the provider holds. */
  readonly truth: { status: ProviderTransactionStatus; amount: number };
  readonly refunds: RefundResult[];
}

/** Creates the fake provider for transaction `reference` asked for `amount` NGN. */
export function createFakeProvider(gate: () => Gate, reference: string, amount: number): FakeProvider {
  const truth: { status: ProviderTransactionStatus; amount: number } = { status: "abandoned", amount };
  let inFlight = 0;
  let down = 0;
  const refunds: RefundResult[] = [];
  const answer = async <T>(label: string, body: () => T): Promise<T> => {
    await gate()(`provider.${label}`);
    const result = body();
    await gate()(`provider.${label} answered`);
    return structuredClone(result);
  };
  const provider = _strict<PaymentProvider>({
    name: "paystack",
    verify: (ref) =>
      answer(`verify ${ref}`, (): VerifyResult => {
        if (down > 0) {
          down--;
          throw new ProviderError("unavailable", "sandbox outage");
        }
        if (ref !== reference) throw new ProviderError("not_found", "Transaction reference not found");
        const status = inFlight > 0 ? (inFlight--, "pending" as const) : truth.status;
        return {
          reference: ref,
          status,
          amount: truth.amount,
          requestedAmount: truth.amount,
          fees: null,
          currency: "NGN",
          paidAt: status === "success" ? iso(NOW) : null,
          gatewayResponse: status === "failed" ? "Declined" : null,
          providerTransactionId: "4000000001",
          raw: { reference: ref, status, amount: truth.amount },
        };
      }),
    refund: (input) =>
      answer(`refund ${input.amount}`, () => {
        const paidBack = refunds.filter((r) => r.status !== "failed").reduce((sum, r) => sum + r.amount, 0);
        if (truth.status !== "success" || input.amount + paidBack > truth.amount) {
          throw new ProviderError("rejected", "Refund amount cannot be greater than the unrefunded amount");
        }
        const refund: RefundResult = {
          refundId: String(7_000_000 + refunds.length + 1),
          status: "pending",
          amount: input.amount,
          currency: input.currency,
          transactionReference: reference,
          merchantNote: input.merchantNote,
          raw: {},
        };
        refunds.push(refund);
        return refund;
      }),
    fetchRefund: (id) =>
      answer(`fetchRefund ${id}`, () => {
        const refund = refunds.find((r) => r.refundId === id);
        if (!refund) throw new ProviderError("not_found", "Refund not found");
        return refund;
      }),
    listRefunds: () => answer("listRefunds", () => [...refunds]),
  }, "provider");
  return {
    provider,
    truth,
    refunds,
    pay(paid = amount) {
      if (truth.status === "success") return;
      truth.status = "success";
      truth.amount = paid;
    },
    decline() {
      if (truth.status !== "success") truth.status = "failed";
    },
    inFlight(times) {
      inFlight += times;
    },
    unavailable(times) {
      down += times;
    },
    calm() {
      inFlight = 0;
      down = 0;
    },
    settleRefunds() {
      for (const r of refunds) if (r.status === "pending" || r.status === "processing") r.status = "processed";
    },
  };
}
