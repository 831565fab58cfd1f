/**
 * Refunds at the SQL level (migration 20261128000002_refunds_debits): a
 * refund reserves its amount (wallets.held) when begun, and only the
 * provider's `processed` writes the ledger `refund` entry, debits the
 * balance and raises the payment's refunded_amount — once. Every scenario
 * ends with check_ledger_invariants() empty; the last suite forges each of
 * the refund invariant terms in a rolled-back transaction.
 */
import assert from "node:assert/strict";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlClient, SqlSession } from "../../src/db/sql_client.ts";
import type { InvariantViolation } from "../../src/payments/payment_store.ts";
import {
  assertLedgerHolds,
  assertSqlState,
  creditedPayment,
  inRollback,
  moneyOf,
  newPayment,
  newUserId,
  paymentOf,
  raceBehindLock,
  rpc,
  rpcRows,
  walk,
} from "./sql_test_kit.ts";

type RefundState = "pending" | "processing" | "needs_attention" | "processed" | "failed";

/** A refund as private._refund_json renders it. */
interface Refund {
  id: string;
  payment_reference: string;
  provider_transaction: string;
  user_id: string;
  amount: number;
  currency: string;
  reason: string;
  state: RefundState;
  refund_request_id: string | null;
  provider_refund_id: string | null;
  provider_status: string | null;
  failure_reason: string | null;
  submit_attempts: number;
  created_at: string;
  updated_at: string;
  submitted_at: string | null;
  settled_at: string | null;
}

interface Begun {
  outcome: "created" | "existing";
  refund: Refund;
}

interface Applied {
  changed: boolean;
  refund: Refund | null;
}

interface Claim {
  claimed: boolean;
  refund: Refund | null;
}

interface WalletBalance {
  currency: string;
  balance: number;
  held: number;
  available: number;
  updated_at: string;
}

const REFUND_FIELDS = [
  "amount",
  "created_at",
  "currency",
  "failure_reason",
  "id",
  "payment_reference",
  "provider_refund_id",
  "provider_status",
  "provider_transaction",
  "reason",
  "refund_request_id",
  "settled_at",
  "state",
  "submit_attempts",
  "submitted_at",
  "updated_at",
  "user_id",
];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function beginRefund(db: SqlSession, reference: string, args: Record<string, unknown> = {}): Promise<Begun> {
  return rpc<Begun>(db, "begin_refund", {
    p_reference: reference,
    p_amount: null,
    p_reason: "customer asked",
    p_request_key: `api:${crypto.randomUUID()}`,
    p_fingerprint: "fp",
    ...args,
  });
}

function applyStatus(
  db: SqlSession,
  refundId: string | null,
  status: string,
  args: Record<string, unknown> = {},
): Promise<Applied> {
  return rpc<Applied>(db, "apply_refund_status", {
    p_refund_id: refundId,
    p_provider_refund_id: null,
    p_status: status,
    ...args,
  });
}

function claim(db: SqlSession, refundId: string, args: Record<string, unknown> = {}): Promise<Claim> {
  return rpc<Claim>(db, "claim_refund_submission", { p_refund_id: refundId, ...args });
}

/** The user's NGN wallet as get_wallet shows it. */
async function walletOf(db: SqlSession, userId: string, currency = "NGN"): Promise<WalletBalance> {
  const wallet = await rpc<{ balances: WalletBalance[] }>(db, "get_wallet", { p_user_id: userId });
  const balance = wallet.balances.find((b) => b.currency === currency);
  assert.ok(balance, `${userId} has a ${currency} wallet`);
  return balance;
}

async function money(db: SqlSession, userId: string): Promise<[number, number, number]> {
  const w = await walletOf(db, userId);
  return [w.balance, w.held, w.available];
}

interface LedgerRow {
  reference: string;
  idempotency_key: string;
  type: string;
  amount: number;
  currency: string;
  balance_after: number;
  refund_id: string | null;
  reason: string | null;
  payment_log_id: string | null;
}

async function refundEntries(db: SqlSession, paymentId: string): Promise<LedgerRow[]> {
  return await db.query<LedgerRow & Record<string, unknown>>(
    `select reference, idempotency_key, type, amount::integer as amount, currency,
            balance_after::integer as balance_after, refund_id, reason, payment_log_id
       from public.sms_transactions
      where payment_log_id = $1 and type = 'refund'
      order by created_at, id`,
    [paymentId],
  );
}

async function refundRow(db: SqlSession, id: string) {
  const [row] = await db.query<{ submitting_at: Date | null; provider_payload: unknown; request_key: string }>(
    "select submitting_at, provider_payload, request_key from public.refunds where id = $1",
    [id],
  );
  assert.ok(row, `refund ${id} exists`);
  return row;
}

async function refundRequest(db: SqlSession, id: string) {
  const [row] = await db.query<{
    status: string;
    refund_id: string | null;
    provider_refund_id: string | null;
    failure_reason: string | null;
    processed_at: Date | null;
  }>(
    "select status, refund_id, provider_refund_id, failure_reason, processed_at from public.refund_requests where id = $1",
    [
      id,
    ],
  );
  assert.ok(row, `refund request ${id} exists`);
  return row;
}

/** Inserts a refund_requests row as staff would (the test connects as the table owner). */
async function newRefundRequest(db: SqlSession, reference: string, amount: number | null = null): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `insert into public.refund_requests (payment_reference, amount, reason, requested_by)
     values ($1, $2, 'staff: goodwill', 'ops@example.com') returning id`,
    [reference, amount],
  );
  return row!.id;
}

async function eventRow(db: SqlSession, provider: string, eventKey: string) {
  const [row] = await db.query<{
    event_type: string;
    reference: string | null;
    payload: unknown;
    attempts: number;
    processed: boolean;
    outcome: string | null;
  }>(
    `select event_type, reference, payload, attempts, processed_at is not null as processed, outcome
       from public.webhook_events where provider = $1 and event_key = $2`,
    [provider, eventKey],
  );
  assert.ok(row, `event ${eventKey} recorded`);
  return row;
}

Deno.test("refunds (begin_refund, apply_refund_status, claims, refund requests, reads)", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step(
      "a full refund reserves the amount when begun and, once processed, debits it once and refunds the payment",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });

        const begun = await beginRefund(db, p.reference, { p_reason: "duplicate order", p_fingerprint: "fp-full" });
        assert.equal(begun.outcome, "created");
        const r = begun.refund;
        assert.deepEqual(Object.keys(r).sort(), REFUND_FIELDS);
        assert.deepEqual(
          {
            payment_reference: r.payment_reference,
            provider_transaction: r.provider_transaction,
            user_id: r.user_id,
            amount: r.amount,
            currency: r.currency,
            reason: r.reason,
            state: r.state,
            refund_request_id: r.refund_request_id,
            provider_refund_id: r.provider_refund_id,
            provider_status: r.provider_status,
            failure_reason: r.failure_reason,
            submit_attempts: r.submit_attempts,
            submitted_at: r.submitted_at,
            settled_at: r.settled_at,
          },
          {
            payment_reference: p.reference,
            provider_transaction: p.reference,
            user_id: user,
            amount: 5000,
            currency: "NGN",
            reason: "duplicate order",
            state: "pending",
            refund_request_id: null,
            provider_refund_id: null,
            provider_status: null,
            failure_reason: null,
            submit_attempts: 0,
            submitted_at: null,
            settled_at: null,
          },
        );
        assert.match(r.created_at, ISO);
        assert.match(r.updated_at, ISO);
        // Reserved, not debited: balance unchanged, nothing spendable, payment untouched.
        assert.deepEqual(await money(db, user), [5000, 5000, 0]);
        const pending = await paymentOf(db, p.reference);
        assert.deepEqual([pending.state, pending.refunded_amount, pending.lock_version], [
          "completed",
          0,
          p.lock_version,
        ]);
        assert.deepEqual(await refundEntries(db, p.id), []);
        await assertLedgerHolds(db);

        const processing = await applyStatus(db, r.id, "processing", {
          p_provider_refund_id: "rf_full",
          p_provider_payload: { status: "processing", id: "rf_full" },
        });
        assert.equal(processing.changed, true);
        assert.equal(processing.refund?.state, "processing");
        assert.equal(processing.refund?.provider_refund_id, "rf_full");
        assert.equal(processing.refund?.provider_status, "processing");
        assert.match(processing.refund?.submitted_at ?? "", ISO);
        assert.equal(processing.refund?.settled_at, null);
        assert.deepEqual((await refundRow(db, r.id)).provider_payload, { status: "processing", id: "rf_full" });
        assert.deepEqual(await money(db, user), [5000, 5000, 0]);
        assert.deepEqual(await refundEntries(db, p.id), []);
        await assertLedgerHolds(db);

        // Found by the provider's refund id alone, as a webhook would.
        const processed = await applyStatus(db, null, "processed", {
          p_provider_refund_id: "rf_full",
          p_provider_payload: { status: "processed", id: "rf_full" },
          p_actor: "webhook",
        });
        assert.equal(processed.changed, true);
        assert.equal(processed.refund?.id, r.id);
        assert.equal(processed.refund?.state, "processed");
        assert.equal(processed.refund?.provider_status, "processed");
        assert.match(processed.refund?.settled_at ?? "", ISO);
        assert.deepEqual(await refundEntries(db, p.id), [{
          reference: `refund-${r.id}`,
          idempotency_key: `refund:${r.id}`,
          type: "refund",
          amount: 5000,
          currency: "NGN",
          balance_after: 0,
          refund_id: r.id,
          reason: "duplicate order",
          payment_log_id: p.id,
        }]);
        assert.deepEqual(await money(db, user), [0, 0, 0]);
        const refunded = await paymentOf(db, p.reference);
        assert.equal(refunded.state, "refunded");
        assert.equal(refunded.refunded_amount, 5000);
        const last = refunded.state_transitions.at(-1)!;
        assert.deepEqual([last.from, last.to, last.actor, last.reason], [
          "completed",
          "refunded",
          "webhook",
          `refund ${r.id}: duplicate order`,
        ]);
        const wallet = await rpc<{ items: { type: string; amount: number; payment_reference: string | null }[] }>(
          db,
          "get_wallet",
          { p_user_id: user },
        );
        assert.deepEqual(wallet.items.map((i) => [i.type, i.amount, i.payment_reference]), [
          ["refund", 5000, p.reference],
          ["credit", 5000, p.reference],
        ]);
        await assertLedgerHolds(db);

        // Processed is final: the same word again changes nothing.
        const before = await moneyOf(db, user);
        const again = await applyStatus(db, r.id, "processed", { p_provider_refund_id: "rf_full" });
        assert.equal(again.changed, false);
        assert.deepEqual(again.refund, processed.refund);
        assert.equal((await refundEntries(db, p.id)).length, 1);
        assert.deepEqual(await moneyOf(db, user), before);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "two partial refunds summing to the amount: the first leaves the payment completed with a completed → completed entry, the second refunds it",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });

        const first = (await beginRefund(db, p.reference, { p_amount: 2000, p_reason: "one item returned" })).refund;
        assert.equal(first.amount, 2000);
        assert.deepEqual(await money(db, user), [5000, 2000, 3000]);
        // pending → processed directly (the provider's first answer may already be final).
        assert.equal((await applyStatus(db, first.id, "processed", { p_actor: "refund-api" })).changed, true);
        const partly = await paymentOf(db, p.reference);
        assert.equal(partly.state, "completed");
        assert.equal(partly.refunded_amount, 2000);
        assert.equal(partly.state_transitions.length, p.state_transitions.length + 1);
        const audit = partly.state_transitions.at(-1)!;
        assert.deepEqual([audit.from, audit.to, audit.actor, audit.reason], [
          "completed",
          "completed",
          "refund-api",
          `refund ${first.id}: one item returned`,
        ]);
        assert.deepEqual(await money(db, user), [3000, 0, 3000]);
        await assertLedgerHolds(db);

        // No amount: everything still refundable.
        const second = (await beginRefund(db, p.reference, { p_reason: "the rest" })).refund;
        assert.equal(second.amount, 3000);
        assert.deepEqual(await money(db, user), [3000, 3000, 0]);
        await assertLedgerHolds(db);
        assert.equal((await applyStatus(db, second.id, "processed", { p_actor: "refund-api" })).changed, true);
        const refunded = await paymentOf(db, p.reference);
        assert.equal(refunded.state, "refunded");
        assert.equal(refunded.refunded_amount, 5000);
        const last = refunded.state_transitions.at(-1)!;
        assert.deepEqual([last.from, last.to, last.reason], ["completed", "refunded", `refund ${second.id}: the rest`]);
        assert.deepEqual(
          (await refundEntries(db, p.id)).map((e) => [e.refund_id, e.amount, e.balance_after]),
          [[first.id, 2000, 3000], [second.id, 3000, 0]],
        );
        assert.deepEqual(await money(db, user), [0, 0, 0]);
        // Nothing is left to refund.
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 1 }), "PM005");
        await assertSqlState(beginRefund(db, p.reference), "PM005");
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "more than what is left to refund (refunds in flight counted) is PM005 and writes nothing",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        // Other credit in the wallet, so only the payment's remainder can refuse.
        await creditedPayment(db, { userId: user, amount: 10000 });
        let before = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 5001 }), "PM005");
        assert.deepEqual(await moneyOf(db, user), before);

        const inFlight = (await beginRefund(db, p.reference, { p_amount: 3000 })).refund;
        before = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 2001 }), "PM005");
        assert.deepEqual(await moneyOf(db, user), before);

        // A refund still at the provider (processing, needs_attention) counts too.
        await applyStatus(db, inFlight.id, "processing", { p_provider_refund_id: `rf_${inFlight.id}` });
        before = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 2001 }), "PM005");
        await applyStatus(db, inFlight.id, "needs-attention");
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 2001 }), "PM005");
        assert.deepEqual((await moneyOf(db, user)).wallets, before.wallets);
        assert.deepEqual((await moneyOf(db, user)).ledger, before.ledger);

        // Exactly the remainder fits; after it nothing does, not even "everything".
        assert.equal((await beginRefund(db, p.reference, { p_amount: 2000 })).refund.amount, 2000);
        before = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference), "PM005");
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 1 }), "PM005");
        assert.deepEqual(await moneyOf(db, user), before);

        // A failed refund gives its amount back to what is refundable.
        await applyStatus(db, inFlight.id, "failed", { p_failure_reason: "provider_status: failed" });
        assert.equal((await beginRefund(db, p.reference, { p_amount: 3000 })).refund.amount, 3000);
        assert.deepEqual(await money(db, user), [15000, 5000, 10000]);
        await assertLedgerHolds(db);
      },
    );

    await t.step("invalid refund arguments are PM008 and write nothing", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const before = await moneyOf(db, user);
      for (
        const args of [
          { p_amount: 0 },
          { p_amount: -5 },
          { p_reason: "" },
          { p_reason: null },
          { p_reason: "x".repeat(501) },
          { p_request_key: "" },
          { p_request_key: null },
          { p_request_key: "k".repeat(401) },
          { p_fingerprint: null },
        ]
      ) {
        await assertSqlState(beginRefund(db, p.reference, args), "PM008");
      }
      await assertSqlState(beginRefund(db, "pay-missing"), "PM004");
      assert.deepEqual(await moneyOf(db, user), before);
      await assertLedgerHolds(db);
    });

    await t.step(
      "only a completed payment can be refunded: pending, processing and failed payments are PM010, nothing written",
      async () => {
        const user = newUserId();
        // Credit in the wallet, so the refusal is about the payment, not the balance.
        await creditedPayment(db, { userId: user, amount: 9000 });
        const pending = await newPayment(db, { userId: user, amount: 1000 });
        const processing = await newPayment(db, { userId: user, amount: 1000 });
        await rpc(db, "mark_processing", { p_reference: processing.reference });
        const failed = await newPayment(db, { userId: user, amount: 1000 });
        await rpc(db, "fail_payment", { p_reference: failed.reference, p_reason: "declined" });
        const before = await moneyOf(db, user);
        for (const p of [pending, processing, failed]) {
          await assertSqlState(beginRefund(db, p.reference), "PM010");
          await assertSqlState(beginRefund(db, p.reference, { p_amount: 500 }), "PM010");
        }
        assert.deepEqual(await moneyOf(db, user), before);
        assert.deepEqual(await money(db, user), [9000, 0, 9000]);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "a refund of credit already spent is PM006: no refund row, held unchanged, nothing written",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const debit = await rpc<{ replayed: boolean }>(db, "debit_wallet", {
          p_user_id: user,
          p_currency: "NGN",
          p_amount: 4000,
          p_reason: "sms sent",
          p_idempotency_key: crypto.randomUUID(),
          p_fingerprint: "fp",
        });
        assert.equal(debit.replayed, false);
        const before = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference), "PM006");
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 1001 }), "PM006");
        assert.deepEqual(await moneyOf(db, user), before);
        assert.deepEqual(before.refunds, []);
        assert.deepEqual(await money(db, user), [1000, 0, 1000]);

        // What is unspent can be refunded, and is then reserved: nothing more fits.
        const r = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
        assert.deepEqual(await money(db, user), [1000, 1000, 0]);
        const reserved = await moneyOf(db, user);
        await assertSqlState(beginRefund(db, p.reference, { p_amount: 1 }), "PM006");
        assert.deepEqual(await moneyOf(db, user), reserved);
        await applyStatus(db, r.id, "processed");
        assert.deepEqual(await money(db, user), [0, 0, 0]);
        const after = await paymentOf(db, p.reference);
        assert.deepEqual([after.state, after.refunded_amount], ["completed", 1000]);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "the same request key answers the same refund ('existing'); with another fingerprint it is PM009",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const key = `api:${crypto.randomUUID()}`;
        const first = await beginRefund(db, p.reference, { p_amount: 1000, p_request_key: key, p_fingerprint: "fp-a" });
        assert.equal(first.outcome, "created");
        const replay = await beginRefund(db, p.reference, {
          p_amount: 1000,
          p_request_key: key,
          p_fingerprint: "fp-a",
        });
        assert.equal(replay.outcome, "existing");
        assert.deepEqual(replay.refund, first.refund);
        assert.deepEqual(await money(db, user), [5000, 1000, 4000]);
        assert.equal((await moneyOf(db, user)).refunds.length, 1);

        const before = await moneyOf(db, user);
        await assertSqlState(
          beginRefund(db, p.reference, { p_amount: 2000, p_request_key: key, p_fingerprint: "fp-b" }),
          "PM009",
        );
        assert.deepEqual(await moneyOf(db, user), before);

        // The replay answers the refund as it is now, even once nothing is left to refund.
        await applyStatus(db, first.refund.id, "processed");
        await beginRefund(db, p.reference, { p_amount: 4000 }).then((r) => applyStatus(db, r.refund.id, "processed"));
        assert.equal((await paymentOf(db, p.reference)).state, "refunded");
        const late = await beginRefund(db, p.reference, { p_amount: 1000, p_request_key: key, p_fingerprint: "fp-a" });
        assert.equal(late.outcome, "existing");
        assert.equal(late.refund.id, first.refund.id);
        assert.equal(late.refund.state, "processed");
        assert.equal((await moneyOf(db, user)).refunds.length, 2);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "claim_refund_submission: one claim at a time, released or stale claims are taken again, pending refunds only",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const r = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;

        const first = await claim(db, r.id);
        assert.equal(first.claimed, true);
        assert.equal(first.refund?.submit_attempts, 1);
        assert.equal(first.refund?.state, "pending");
        assert.ok((await refundRow(db, r.id)).submitting_at);
        const second = await claim(db, r.id);
        assert.equal(second.claimed, false);
        assert.equal(second.refund?.submit_attempts, 1);

        await rpc(db, "release_refund_claim", { p_refund_id: r.id });
        assert.equal((await refundRow(db, r.id)).submitting_at, null);
        const retaken = await claim(db, r.id);
        assert.equal(retaken.claimed, true);
        assert.equal(retaken.refund?.submit_attempts, 2);
        assert.equal((await claim(db, r.id, { p_claim_seconds: 60 })).claimed, false);

        // The holder died: its claim, older than p_claim_seconds, is taken over.
        await db.query("update public.refunds set submitting_at = now() - interval '61 seconds' where id = $1", [r.id]);
        assert.equal((await claim(db, r.id, { p_claim_seconds: 120 })).claimed, false);
        const takeover = await claim(db, r.id, { p_claim_seconds: 60 });
        assert.equal(takeover.claimed, true);
        assert.equal(takeover.refund?.submit_attempts, 3);
        // Claiming reserves nothing more.
        assert.deepEqual(await money(db, user), [5000, 1000, 4000]);

        // The provider's answer ends the claim; a refund no longer pending cannot be claimed.
        await applyStatus(db, r.id, "processing", { p_provider_refund_id: `rf_${r.id}` });
        assert.equal((await refundRow(db, r.id)).submitting_at, null);
        const notPending = await claim(db, r.id);
        assert.equal(notPending.claimed, false);
        assert.equal(notPending.refund?.state, "processing");
        assert.equal(notPending.refund?.submit_attempts, 3);
        const before = await moneyOf(db, user);
        await rpc(db, "release_refund_claim", { p_refund_id: r.id });
        assert.deepEqual(await moneyOf(db, user), before);

        for (const status of ["processed", "failed"] as const) {
          const settled = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
          await applyStatus(db, settled.id, status);
          const refused = await claim(db, settled.id, { p_claim_seconds: 1 });
          assert.equal(refused.claimed, false);
          assert.equal(refused.refund?.state, status);
          assert.equal(refused.refund?.submit_attempts, 0);
        }
        assert.deepEqual(await claim(db, crypto.randomUUID()), { claimed: false, refund: null });
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "'failed' after 'processing' releases the reservation: the refund fails, the payment is unchanged",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const r = (await beginRefund(db, p.reference, { p_amount: 2000 })).refund;
        await applyStatus(db, r.id, "processing", { p_provider_refund_id: "rf_fail" });
        const payment = await paymentOf(db, p.reference);
        const failed = await applyStatus(db, null, "failed", {
          p_provider_refund_id: "rf_fail",
          p_failure_reason: "provider_status: failed",
        });
        assert.equal(failed.changed, true);
        assert.equal(failed.refund?.state, "failed");
        assert.equal(failed.refund?.failure_reason, "provider_status: failed");
        assert.equal(failed.refund?.provider_status, "failed");
        assert.match(failed.refund?.settled_at ?? "", ISO);
        assert.deepEqual(await money(db, user), [5000, 0, 5000]);
        assert.deepEqual(await paymentOf(db, p.reference), payment);
        assert.deepEqual(await refundEntries(db, p.id), []);
        await assertLedgerHolds(db);
      },
    );

    await t.step("'rejected' on a pending refund fails it with the reason, never sent", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const r = (await beginRefund(db, p.reference, { p_amount: 2000 })).refund;
      await claim(db, r.id);
      const rejected = await applyStatus(db, r.id, "rejected", {
        p_failure_reason: "provider_rejected: Transaction has been fully reversed",
      });
      assert.equal(rejected.changed, true);
      assert.equal(rejected.refund?.state, "failed");
      assert.equal(rejected.refund?.failure_reason, "provider_rejected: Transaction has been fully reversed");
      assert.equal(rejected.refund?.provider_status, null);
      assert.equal(rejected.refund?.submitted_at, null);
      assert.match(rejected.refund?.settled_at ?? "", ISO);
      assert.equal((await refundRow(db, r.id)).submitting_at, null);
      assert.deepEqual(await money(db, user), [5000, 0, 5000]);

      // Without a reason, the status is the reason.
      const bare = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
      assert.equal((await applyStatus(db, bare.id, "rejected")).refund?.failure_reason, "refund rejected");
      const payment = await paymentOf(db, p.reference);
      assert.deepEqual([payment.state, payment.refunded_amount], ["completed", 0]);
      await assertLedgerHolds(db);
    });

    await t.step("'needs-attention' keeps the reservation until the provider settles the refund", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const r = (await beginRefund(db, p.reference, { p_amount: 1500 })).refund;
      await applyStatus(db, r.id, "processing", { p_provider_refund_id: "rf_attention" });
      const attention = await applyStatus(db, r.id, "needs-attention", { p_provider_refund_id: "rf_attention" });
      assert.equal(attention.changed, true);
      assert.equal(attention.refund?.state, "needs_attention");
      assert.equal(attention.refund?.provider_status, "needs-attention");
      assert.equal(attention.refund?.settled_at, null);
      assert.deepEqual(await money(db, user), [5000, 1500, 3500]);
      await assertLedgerHolds(db);
      assert.equal((await applyStatus(db, r.id, "needs-attention")).changed, false);
      // The provider took it back up, then paid it out.
      assert.equal((await applyStatus(db, r.id, "pending")).refund?.state, "processing");
      assert.equal((await applyStatus(db, r.id, "processed")).refund?.state, "processed");
      assert.deepEqual(await money(db, user), [3500, 0, 3500]);
      assert.equal((await paymentOf(db, p.reference)).refunded_amount, 1500);
      await assertLedgerHolds(db);
    });

    await t.step("a settled refund (processed or failed) ignores every later status", async () => {
      const user = newUserId();
      const p = await creditedPayment(db, { userId: user, amount: 5000 });
      const failed = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
      await applyStatus(db, failed.id, "failed", { p_provider_refund_id: "rf_settled_f" });
      const processed = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
      await applyStatus(db, processed.id, "processed", { p_provider_refund_id: "rf_settled_p" });
      const before = await moneyOf(db, user);
      const refunds = [
        await rpc<Refund>(db, "get_refund", { p_refund_id: failed.id }),
        await rpc<Refund>(
          db,
          "get_refund",
          { p_refund_id: processed.id },
        ),
      ];
      for (const status of ["pending", "processing", "needs-attention", "processed", "failed", "rejected"]) {
        for (const r of refunds) {
          const applied = await applyStatus(db, r.id, status, {
            p_provider_payload: { late: status },
            p_failure_reason: "late",
          });
          assert.equal(applied.changed, false, `${r.state} + ${status}`);
          assert.deepEqual(applied.refund, r, `${r.state} + ${status}`);
        }
      }
      assert.deepEqual(await moneyOf(db, user), before);
      assert.deepEqual(await money(db, user), [4000, 0, 4000]);
      assert.equal((await refundEntries(db, p.id)).length, 1);
      await assertLedgerHolds(db);
    });

    await t.step(
      "apply_refund_status refuses an unknown status, no refund id at all, and another provider refund id (PM008)",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const r = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
        await applyStatus(db, r.id, "processing", { p_provider_refund_id: "rf_mine" });
        const before = await moneyOf(db, user);
        await assertSqlState(applyStatus(db, r.id, "reversed"), "PM008");
        await assertSqlState(applyStatus(db, null, "processed"), "PM008");
        await assertSqlState(applyStatus(db, r.id, "processed", { p_provider_refund_id: "rf_other" }), "PM008");
        assert.deepEqual(await moneyOf(db, user), before);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "with a webhook event, apply_refund_status records it processed ('refund_updated'); a redelivery counts an attempt",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const r = (await beginRefund(db, p.reference, { p_amount: 2500 })).refund;
        await applyStatus(db, r.id, "processing", { p_provider_refund_id: "rf_hook" });
        const event = {
          p_provider_refund_id: "rf_hook",
          p_actor: "webhook",
          p_event_provider: "paystack",
          p_event_key: "refund.processed:rf_hook",
          p_event_type: "refund.processed",
          p_event_payload: { event: "refund.processed", data: { id: "rf_hook" } },
        };
        const applied = await applyStatus(db, null, "processed", event);
        assert.equal(applied.changed, true);
        assert.equal(applied.refund?.state, "processed");
        assert.deepEqual(await eventRow(db, "paystack", "refund.processed:rf_hook"), {
          event_type: "refund.processed",
          reference: null,
          payload: { event: "refund.processed", data: { id: "rf_hook" } },
          attempts: 1,
          processed: true,
          outcome: "refund_updated",
        });
        const before = await moneyOf(db, user);

        const redelivered = await applyStatus(db, null, "processed", event);
        assert.equal(redelivered.changed, false);
        const row = await eventRow(db, "paystack", "refund.processed:rf_hook");
        assert.deepEqual([row.attempts, row.processed, row.outcome], [2, true, "refund_updated"]);
        assert.deepEqual(await moneyOf(db, user), before);
        assert.equal((await refundEntries(db, p.id)).length, 1);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "a webhook for an unknown provider refund id is recorded as 'unknown_refund' and writes nothing else",
      async () => {
        const user = newUserId();
        await creditedPayment(db, { userId: user, amount: 5000 });
        const [counts] = await db.query<{ refunds: string; entries: string; wallets: string }>(
          `select (select count(*) from public.refunds) as refunds,
                  (select count(*) from public.sms_transactions) as entries,
                  (select sum(balance + held) from public.wallets) as wallets`,
        );
        const event = {
          p_provider_refund_id: "rf_nobody",
          p_event_provider: "paystack",
          p_event_key: "refund.processed:rf_nobody",
          p_event_type: "refund.processed",
          p_event_payload: { data: { id: "rf_nobody" } },
        };
        assert.deepEqual(await applyStatus(db, null, "processed", event), { changed: false, refund: null });
        const row = await eventRow(db, "paystack", "refund.processed:rf_nobody");
        assert.deepEqual([row.attempts, row.processed, row.outcome], [1, true, "unknown_refund"]);
        assert.deepEqual(await applyStatus(db, null, "processed", event), { changed: false, refund: null });
        const again = await eventRow(db, "paystack", "refund.processed:rf_nobody");
        assert.deepEqual([again.attempts, again.processed, again.outcome], [2, true, "unknown_refund"]);
        // Our own id of a refund that does not exist is unknown too.
        assert.deepEqual(await applyStatus(db, crypto.randomUUID(), "processed"), { changed: false, refund: null });
        const [after] = await db.query<{ refunds: string; entries: string; wallets: string }>(
          `select (select count(*) from public.refunds) as refunds,
                  (select count(*) from public.sms_transactions) as entries,
                  (select sum(balance + held) from public.wallets) as wallets`,
        );
        assert.deepEqual(after, counts);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "a refund_requests row becomes a refund: processing with its refund_id, then succeeded with the provider refund id",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const request = await newRefundRequest(db, p.reference, 1500);
        const key = `refund_request:${request}`;
        const begun = await beginRefund(db, p.reference, {
          p_amount: 1500,
          p_reason: "staff: goodwill",
          p_request_key: key,
          p_refund_request_id: request,
        });
        assert.equal(begun.outcome, "created");
        assert.equal(begun.refund.refund_request_id, request);
        assert.deepEqual(await refundRequest(db, request), {
          status: "processing",
          refund_id: begun.refund.id,
          provider_refund_id: null,
          failure_reason: null,
          processed_at: null,
        });
        // A redelivered Database Webhook finds the refund by its key.
        const replay = await beginRefund(db, p.reference, {
          p_amount: 1500,
          p_reason: "staff: goodwill",
          p_request_key: key,
          p_refund_request_id: request,
        });
        assert.equal(replay.outcome, "existing");
        assert.equal(replay.refund.id, begun.refund.id);

        await applyStatus(db, begun.refund.id, "processing", { p_provider_refund_id: "rf_request" });
        assert.equal((await refundRequest(db, request)).status, "processing");
        await applyStatus(db, begun.refund.id, "processed");
        const done = await refundRequest(db, request);
        assert.deepEqual([done.status, done.refund_id, done.provider_refund_id, done.failure_reason], [
          "succeeded",
          begun.refund.id,
          "rf_request",
          null,
        ]);
        assert.ok(done.processed_at);
        assert.deepEqual(await money(db, user), [3500, 0, 3500]);
        // Handled: it cannot be refused any more.
        assert.equal(
          await rpc(db, "refuse_refund_request", { p_refund_request_id: request, p_failure_reason: "x" }),
          false,
        );
        assert.equal((await refundRequest(db, request)).status, "succeeded");
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "a refund request whose refund fails is failed with the reason and the provider refund id",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const request = await newRefundRequest(db, p.reference);
        const r = (await beginRefund(db, p.reference, {
          p_request_key: `refund_request:${request}`,
          p_refund_request_id: request,
        })).refund;
        assert.equal(r.amount, 5000);
        await applyStatus(db, r.id, "processing", { p_provider_refund_id: "rf_request_failed" });
        await applyStatus(db, r.id, "failed", { p_failure_reason: "provider_status: failed" });
        const row = await refundRequest(db, request);
        assert.deepEqual([row.status, row.refund_id, row.provider_refund_id, row.failure_reason], [
          "failed",
          r.id,
          "rf_request_failed",
          "provider_status: failed",
        ]);
        assert.ok(row.processed_at);
        assert.deepEqual(await money(db, user), [5000, 0, 5000]);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "begin_refund with another payment's refund request is PM008 and writes nothing",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const other = await creditedPayment(db, { userId: user, amount: 5000 });
        const request = await newRefundRequest(db, other.reference);
        const before = await moneyOf(db, user);
        await assertSqlState(
          beginRefund(db, p.reference, { p_request_key: `refund_request:${request}`, p_refund_request_id: request }),
          "PM008",
        );
        assert.deepEqual(await moneyOf(db, user), before);
        assert.equal((await refundRequest(db, request)).status, "pending");
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "begin_refund with an unknown refund request, or one already linked to another refund, is PM008 ('not a pending request'), nothing written",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const linked = await newRefundRequest(db, p.reference, 1000);
        await beginRefund(db, p.reference, {
          p_amount: 1000,
          p_request_key: `refund_request:${linked}`,
          p_refund_request_id: linked,
        });
        const before = await moneyOf(db, user);
        await assertSqlState(
          beginRefund(db, p.reference, { p_amount: 1000, p_request_key: "another-key", p_refund_request_id: linked }),
          "PM008",
        );
        assert.deepEqual(await moneyOf(db, user), before);
        await assertSqlState(
          beginRefund(db, p.reference, { p_amount: 1000, p_refund_request_id: crypto.randomUUID() }),
          "PM008",
        );
        assert.deepEqual(await moneyOf(db, user), before);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "refuse_refund_request fails a pending request with the reason; a handled or unknown request is false",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const request = await newRefundRequest(db, p.reference);
        assert.equal(
          await rpc(db, "refuse_refund_request", {
            p_refund_request_id: request,
            p_failure_reason: "insufficient_balance: the credit was spent",
          }),
          true,
        );
        const refused = await refundRequest(db, request);
        assert.deepEqual([refused.status, refused.refund_id, refused.failure_reason], [
          "failed",
          null,
          "insufficient_balance: the credit was spent",
        ]);
        assert.ok(refused.processed_at);
        // Refused once: a redelivery finds it handled and changes nothing.
        assert.equal(
          await rpc(db, "refuse_refund_request", { p_refund_request_id: request, p_failure_reason: "again" }),
          false,
        );
        assert.deepEqual(await refundRequest(db, request), refused);

        const inFlight = await newRefundRequest(db, p.reference, 100);
        await beginRefund(db, p.reference, {
          p_amount: 100,
          p_request_key: `refund_request:${inFlight}`,
          p_refund_request_id: inFlight,
        });
        assert.equal(
          await rpc(db, "refuse_refund_request", { p_refund_request_id: inFlight, p_failure_reason: "x" }),
          false,
        );
        assert.equal((await refundRequest(db, inFlight)).status, "processing");
        assert.equal(
          await rpc(db, "refuse_refund_request", { p_refund_request_id: crypto.randomUUID(), p_failure_reason: "x" }),
          false,
        );
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "begin_refund with a refund request that was refused is PM008: the refused request stays failed, nothing reserved",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const request = await newRefundRequest(db, p.reference);
        assert.equal(
          await rpc(db, "refuse_refund_request", { p_refund_request_id: request, p_failure_reason: "refused" }),
          true,
        );
        const before = await moneyOf(db, user);
        // A redelivered Database Webhook (or a retry) must not revive it.
        await assertSqlState(
          beginRefund(db, p.reference, { p_request_key: `refund_request:${request}`, p_refund_request_id: request }),
          "PM008",
        );
        assert.deepEqual(await moneyOf(db, user), before);
        assert.equal((await refundRequest(db, request)).status, "failed");
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "get_refund and list_refunds: a payment's refunds oldest first, its owner's only; unknown ones are null",
      async () => {
        const owner = newUserId();
        const stranger = newUserId();
        const p = await creditedPayment(db, { userId: owner, amount: 5000 });
        const untouched = await creditedPayment(db, { userId: owner, amount: 100 });
        const first = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
        await applyStatus(db, first.id, "processed", { p_provider_refund_id: "rf_list_1" });
        const second = (await beginRefund(db, p.reference, { p_amount: 500 })).refund;

        const one = await rpc<Refund>(db, "get_refund", { p_refund_id: first.id });
        assert.equal(one.state, "processed");
        assert.equal(one.provider_refund_id, "rf_list_1");
        assert.deepEqual(Object.keys(one).sort(), REFUND_FIELDS);
        assert.equal(await rpc(db, "get_refund", { p_refund_id: crypto.randomUUID() }), null);

        const all = await rpc<Refund[]>(db, "list_refunds", { p_reference: p.reference });
        assert.deepEqual(all.map((r) => r.id), [first.id, second.id]);
        assert.deepEqual(all[0], one);
        assert.deepEqual(all[1], await rpc<Refund>(db, "get_refund", { p_refund_id: second.id }));
        assert.deepEqual(await rpc(db, "list_refunds", { p_reference: p.reference, p_user_id: owner }), all);
        assert.equal(await rpc(db, "list_refunds", { p_reference: p.reference, p_user_id: stranger }), null);
        assert.equal(await rpc(db, "list_refunds", { p_reference: "pay-unknown" }), null);
        assert.equal(await rpc(db, "list_refunds", { p_reference: "pay-unknown", p_user_id: owner }), null);
        assert.deepEqual(await rpc(db, "list_refunds", { p_reference: untouched.reference, p_user_id: owner }), []);
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "refund_candidates: pending refunds past their threshold and in-flight ones past theirs, oldest first, never settled ones",
      async () => {
        const user = newUserId();
        const p = await creditedPayment(db, { userId: user, amount: 5000 });
        const pending = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
        const processing = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
        await applyStatus(db, processing.id, "processing", { p_provider_refund_id: "rf_cand_p" });
        const attention = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
        await applyStatus(db, attention.id, "needs-attention", { p_provider_refund_id: "rf_cand_a" });
        const processed = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
        await applyStatus(db, processed.id, "processed");
        const failed = (await beginRefund(db, p.reference, { p_amount: 100 })).refund;
        await applyStatus(db, failed.id, "failed");
        const mine = [pending.id, processing.id, attention.id, processed.id, failed.id];
        const age = (id: string, seconds: number) =>
          db.query("update public.refunds set updated_at = now() - make_interval(secs => $2) where id = $1", [
            id,
            seconds,
          ]);
        const candidates = async (args: Record<string, unknown> = {}) =>
          (await rpc<Refund[]>(db, "refund_candidates", args)).map((r) => r.id).filter((id) => mine.includes(id));

        assert.deepEqual(await candidates(), []);
        await age(pending.id, 301);
        await age(processing.id, 600);
        await age(attention.id, 700);
        await age(processed.id, 100_000);
        await age(failed.id, 100_000);
        // Defaults: pending after 300 s, in flight after 900 s.
        assert.deepEqual(await candidates(), [pending.id]);
        assert.deepEqual(await candidates({ p_pending_older_than_seconds: 302 }), []);
        assert.deepEqual(await candidates({ p_in_flight_older_than_seconds: 650 }), [attention.id, pending.id]);
        assert.deepEqual(await candidates({ p_in_flight_older_than_seconds: 500 }), [
          attention.id,
          processing.id,
          pending.id,
        ]);
        await age(processing.id, 901);
        assert.deepEqual(await candidates(), [processing.id, pending.id]);
        // Oldest first, limited.
        const limited = await rpc<Refund[]>(db, "refund_candidates", { p_limit: 1 });
        assert.equal(limited.length, 1);
        assert.equal(limited[0]?.id, processing.id);
        await assertLedgerHolds(db);
      },
    );
  } finally {
    await close();
  }
});

const RACE_SUITE = "refunds when sessions race (begin_refund, apply_refund_status, claim_refund_submission)";
const RACERS = ["refund-race-0", "refund-race-1", "refund-race-2", "refund-race-3", "refund-race-4"] as const;
const ignoreRace = await ignoreWithout(["postgres"], RACE_SUITE, "sessions must race, and PGlite has one connection");

Deno.test(RACE_SUITE, { ignore: ignoreRace }, async (t) => {
  const database = await createTestDatabase();
  const { db, close } = database;
  const sessions: SqlClient[] = RACERS.map((name) => database.connect({ max: 1, applicationName: name }));
  const blocker = database.connect({ max: 1, applicationName: "refund-race-blocker" });
  try {
    await t.step(
      "5 sessions overlapping on one request key make exactly one refund and one reservation (10 rounds)",
      async () => {
        for (let round = 0; round < 10; round++) {
          const user = newUserId();
          const p = await creditedPayment(db, { userId: user, amount: 3000 });
          const key = `api:race-${round}-${crypto.randomUUID()}`;
          const results = await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session) => () =>
              beginRefund(session, p.reference, { p_amount: 1200, p_request_key: key, p_fingerprint: "fp-race" })
            ),
            { sql: "select 1 from public.payment_logs where reference = $1 for update", params: [p.reference] },
          );
          const begun = results.map((r) => {
            if (r.status === "rejected") throw r.reason;
            return r.value;
          });
          assert.deepEqual(begun.map((b) => b.outcome).sort(), [
            "created",
            "existing",
            "existing",
            "existing",
            "existing",
          ], `round ${round}`);
          assert.equal(new Set(begun.map((b) => b.refund.id)).size, 1, `round ${round}: one refund answered`);
          const snapshot = await moneyOf(db, user);
          assert.equal(snapshot.refunds.length, 1, `round ${round}: one refund row`);
          assert.deepEqual(await money(db, user), [3000, 1200, 1800], `round ${round}: one reservation`);
        }
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "5 sessions overlapping with different keys on one payment never reserve more than it (10 rounds)",
      async () => {
        for (let round = 0; round < 10; round++) {
          const user = newUserId();
          const p = await creditedPayment(db, { userId: user, amount: 3000 });
          const results = await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session) => () => beginRefund(session, p.reference, { p_amount: 1000 })),
            { sql: "select 1 from public.payment_logs where reference = $1 for update", params: [p.reference] },
          );
          const refused = results.filter((r) => r.status === "rejected");
          assert.equal(results.length - refused.length, 3, `round ${round}: three refunds fit`);
          for (const r of refused) {
            assert.equal((r.reason as { code?: string }).code, "PM005", `round ${round}`);
          }
          assert.deepEqual(await money(db, user), [3000, 3000, 0], `round ${round}`);
        }
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "5 sessions overlapping to apply 'processed' to one refund write one ledger entry and debit once (10 rounds)",
      async () => {
        for (let round = 0; round < 10; round++) {
          const user = newUserId();
          const p = await creditedPayment(db, { userId: user, amount: 3000 });
          const r = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
          await applyStatus(db, r.id, "processing", { p_provider_refund_id: `rf_race_${r.id}` });
          const results = await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session, i) => () =>
              // Some know the refund by our id (the API's answer), some by the provider's (webhooks).
              applyStatus(session, i % 2 === 0 ? r.id : null, "processed", { p_provider_refund_id: `rf_race_${r.id}` })
            ),
            { sql: "select 1 from public.payment_logs where reference = $1 for update", params: [p.reference] },
          );
          const applied = results.map((x) => {
            if (x.status === "rejected") throw x.reason;
            return x.value;
          });
          assert.deepEqual(applied.map((a) => a.changed).sort(), [false, false, false, false, true], `round ${round}`);
          assert.equal((await refundEntries(db, p.id)).length, 1, `round ${round}: one ledger entry`);
          assert.deepEqual(await money(db, user), [2000, 0, 2000], `round ${round}`);
          assert.equal((await paymentOf(db, p.reference)).refunded_amount, 1000, `round ${round}`);
        }
        await assertLedgerHolds(db);
      },
    );

    await t.step(
      "5 sessions overlapping to claim one refund's submission: exactly one claims it (10 rounds)",
      async () => {
        for (let round = 0; round < 10; round++) {
          const p = await creditedPayment(db, { amount: 3000 });
          const r = (await beginRefund(db, p.reference, { p_amount: 1000 })).refund;
          const results = await raceBehindLock(
            db,
            blocker,
            RACERS,
            sessions.map((session) => () => claim(session, r.id)),
            { sql: "select 1 from public.refunds where id = $1 for update", params: [r.id] },
          );
          const claims = results.map((x) => {
            if (x.status === "rejected") throw x.reason;
            return x.value;
          });
          assert.deepEqual(claims.map((c) => c.claimed).sort(), [false, false, false, false, true], `round ${round}`);
          assert.equal(
            (await rpc<Refund>(db, "get_refund", { p_refund_id: r.id })).submit_attempts,
            1,
            `round ${round}`,
          );
        }
        await assertLedgerHolds(db);
      },
    );
  } finally {
    for (const session of sessions) await session.close();
    await blocker.close();
    await close();
  }
});

function violations(db: SqlSession): Promise<InvariantViolation[]> {
  return rpcRows<InvariantViolation & Record<string, unknown>>(db, "check_ledger_invariants");
}

function kinds(found: InvariantViolation[]): string[] {
  return [...new Set(found.map((v) => v.invariant))].sort();
}

Deno.test("check_ledger_invariants: the refund terms", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const user = newUserId();
    // partly: 5000, refunded 2000 (processed) and a 500 refund that failed.
    const partly = await creditedPayment(db, { userId: user, amount: 5000 });
    const processed = (await beginRefund(db, partly.reference, { p_amount: 2000 })).refund;
    await applyStatus(db, processed.id, "processed");
    const failed = (await beginRefund(db, partly.reference, { p_amount: 500 })).refund;
    await applyStatus(db, failed.id, "failed");
    // inFlight: 1000 with a 400 refund pending (held 400).
    const inFlight = await creditedPayment(db, { userId: user, amount: 1000 });
    const pending = (await beginRefund(db, inFlight.reference, { p_amount: 400 })).refund;
    // full: 1500, fully refunded.
    const full = await creditedPayment(db, { userId: user, amount: 1500 });
    await applyStatus(db, (await beginRefund(db, full.reference)).refund.id, "processed");
    const [walletRow] = await db.query<{ id: string }>("select id from public.wallets where user_id = $1", [user]);
    const wallet = walletRow!.id;

    await t.step("refunds processed, failed and in flight break no invariant", async () => {
      assert.deepEqual(await money(db, user), [4000, 400, 3600]);
      assert.equal((await paymentOf(db, full.reference)).state, "refunded");
      assert.deepEqual(await violations(db), []);
    });

    await t.step("held that is not the sum of the refunds in flight is held_mismatch", async () => {
      await inRollback(db, async (tx) => {
        await tx.query("update public.wallets set held = held + 1 where id = $1", [wallet]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["held_mismatch"]);
        assert.equal(found[0]?.subject, wallet);
        assert.equal(found[0]?.detail.held, 401);
        assert.equal(found[0]?.detail.in_flight, 400);
      });
      await inRollback(db, async (tx) => {
        // A refund settled behind the wallet's back: its reservation is never released.
        await tx.query("update public.refunds set state = 'failed' where id = $1", [pending.id]);
        const found = await violations(tx);
        assert.deepEqual(kinds(found), ["held_mismatch"]);
        assert.equal(found[0]?.detail.held, 400);
        assert.equal(found[0]?.detail.in_flight, 0);
      });
    });

    await t.step(
      "refunded_amount that is not the processed refunds and the ledger's refund entries is refunded_amount_mismatch",
      async () => {
        await inRollback(db, async (tx) => {
          await tx.query("update public.payment_logs set refunded_amount = refunded_amount + 1 where id = $1", [
            partly.id,
          ]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refunded_amount_mismatch"]);
          assert.equal(found[0]?.subject, partly.reference);
          assert.deepEqual(found[0]?.detail, { refunded_amount: 2001, processed_refunds: 2000, ledger_refunds: 2000 });
        });
      },
    );

    await t.step(
      "a refund entry for a refund that is not processed, or a processed refund without its entry, is refund_without_single_entry",
      async () => {
        await inRollback(db, async (tx) => {
          // The failed refund debited all the same (entry outside any payment, balance kept in step).
          await tx.query(
            `insert into public.sms_transactions
               (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after,
                refund_id)
             values ('refund-forged', 'refund:forged', null, $1, $2, 'refund', 500, 'NGN', 3500, $3)`,
            [user, wallet, failed.id],
          );
          await tx.query("update public.wallets set balance = balance - 500 where id = $1", [wallet]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refund_without_single_entry"]);
          assert.equal(found[0]?.subject, failed.id);
          assert.deepEqual(found[0]?.detail, { state: "failed", entries: 1 });
        });
        await inRollback(db, async (tx) => {
          // The processed refund's entry removed (balance put back): its money left without a trace.
          await tx.query("alter table public.sms_transactions disable trigger sms_transactions_append_only");
          await tx.query("delete from public.sms_transactions where refund_id = $1", [processed.id]);
          await tx.query("update public.wallets set balance = balance + 2000 where id = $1", [wallet]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refund_without_single_entry", "refunded_amount_mismatch"]);
          const entry = found.find((v) => v.invariant === "refund_without_single_entry");
          assert.equal(entry?.subject, processed.id);
          assert.deepEqual(entry?.detail, { state: "processed", entries: 0 });
        });
      },
    );

    await t.step(
      "a ledger refund entry whose refund does not exist is refund_without_single_entry",
      async () => {
        await inRollback(db, async (tx) => {
          // Money out through a `refund` entry that no refund row accounts for (refund_id has no foreign key).
          const ghost = crypto.randomUUID();
          await tx.query(
            `insert into public.sms_transactions
               (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after,
                refund_id)
             values ('refund-ghost', 'refund:ghost', null, $1, $2, 'refund', 500, 'NGN', 3500, $3)`,
            [user, wallet, ghost],
          );
          await tx.query("update public.wallets set balance = balance - 500 where id = $1", [wallet]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refund_without_single_entry"]);
        });
      },
    );

    await t.step(
      "refunded without being fully refunded, or fully refunded but not refunded, is refunded_state_mismatch",
      async () => {
        await inRollback(db, async (tx) => {
          // The generic writer can move completed → refunded without refunding anything.
          const p = await creditedPayment(tx, { userId: user, amount: 700 });
          await walk(tx, p.reference, ["refunded"]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refunded_state_mismatch"]);
          assert.equal(found[0]?.subject, p.reference);
          assert.deepEqual(found[0]?.detail, { state: "refunded", amount: 700, refunded_amount: 0 });
        });
        await inRollback(db, async (tx) => {
          await tx.query("alter table public.payment_logs disable trigger payment_logs_state_guard");
          await tx.query("update public.payment_logs set state = 'completed' where id = $1", [full.id]);
          const found = await violations(tx);
          assert.deepEqual(kinds(found), ["refunded_state_mismatch"]);
          assert.equal(found[0]?.subject, full.reference);
          assert.deepEqual(found[0]?.detail, { state: "completed", amount: 1500, refunded_amount: 1500 });
        });
      },
    );

    await t.step("the corruptions were rolled back", async () => {
      assert.deepEqual(await violations(db), []);
    });
  } finally {
    await close();
  }
});
