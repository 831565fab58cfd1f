import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import type { SqlSession } from "../../src/db/sql_client.ts";
import {
  type Payment,
  type ReconcileCandidate,
  WEBHOOK_EVENT_OUTCOMES,
  type WebhookEventOutcome,
} from "../../src/payments/payment_store.ts";
import { CREDIT_OUTCOMES } from "../../src/payments/payment.ts";
import { assertSqlState, inRollback, newPayment, paymentOf, rpc } from "./sql_test_kit.ts";

interface Recorded {
  event_id: string;
  duplicate: boolean;
  processed: boolean;
  payment: Payment | null;
}

function record(
  db: SqlSession,
  eventKey: string,
  reference: string | null,
  extra: Record<string, unknown> = {},
): Promise<Recorded> {
  return rpc<Recorded>(db, "record_webhook_event", {
    p_provider: "paystack",
    p_event_key: eventKey,
    p_event_type: "charge.success",
    p_reference: reference,
    p_payload: { event: "charge.success", data: { reference } },
    ...extra,
  });
}

async function eventRow(db: SqlSession, id: string) {
  const [row] = await db.query<{ attempts: number; processed_at: Date | null; outcome: string | null }>(
    "select attempts, processed_at, outcome from public.webhook_events where id = $1",
    [id],
  );
  assert.ok(row);
  return row;
}

Deno.test("record_webhook_event", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step("a new event for a pending payment is recorded, not processed", async () => {
      const p = await newPayment(db);
      const r = await record(db, "evt-new", p.reference);
      assert.equal(r.duplicate, false);
      assert.equal(r.processed, false);
      assert.equal(r.payment?.state, "pending");
      const row = await eventRow(db, r.event_id);
      assert.deepEqual([row.attempts, row.processed_at, row.outcome], [1, null, null]);
    });

    await t.step("with p_mark_processing it moves the payment to processing under the fence", async () => {
      const p = await newPayment(db);
      const r = await record(db, "evt-mark", p.reference, { p_mark_processing: true, p_fence: 7 });
      assert.equal(r.processed, false);
      assert.equal(r.payment?.state, "processing");
      const last = r.payment!.state_transitions.at(-1)!;
      assert.deepEqual([last.actor, last.reason], ["webhook", "charge.success"]);
      await assertSqlState(
        rpc(db, "credit_user", { p_reference: p.reference, p_amount: 5000, p_currency: "NGN", p_fence: 6 }),
        "PM003",
      );
      await assertSqlState(record(db, "evt-mark-stale", p.reference, { p_mark_processing: true, p_fence: 3 }), "PM003");
      // The refused call rolled back: its event was not recorded.
      const [row] = await db.query<{ n: string }>(
        "select count(*) as n from public.webhook_events where event_key = 'evt-mark-stale'",
      );
      assert.equal(row?.n, "0");
    });

    await t.step("a redelivery before processing is a duplicate still to be worked on", async () => {
      const p = await newPayment(db);
      const first = await record(db, "evt-redeliver", p.reference);
      const again = await record(db, "evt-redeliver", p.reference);
      assert.equal(again.event_id, first.event_id);
      assert.equal(again.duplicate, true);
      assert.equal(again.processed, false);
      assert.equal((await eventRow(db, first.event_id)).attempts, 2);
    });

    await t.step("a redelivery after the credit committed is a processed duplicate", async () => {
      const p = await newPayment(db);
      const first = await record(db, "evt-done", p.reference);
      await rpc(db, "credit_user", {
        p_reference: p.reference,
        p_amount: 5000,
        p_currency: "NGN",
        p_webhook_event_id: first.event_id,
      });
      const again = await record(db, "evt-done", p.reference);
      assert.deepEqual([again.duplicate, again.processed, again.payment?.state], [true, true, "completed"]);
      const row = await eventRow(db, first.event_id);
      assert.equal(row.outcome, "credited");
      assert.equal(row.attempts, 2);
    });

    await t.step("an event for an unknown reference is processed at once, with no payment", async () => {
      const r = await record(db, "evt-unknown", "pay-does-not-exist");
      assert.deepEqual([r.duplicate, r.processed, r.payment], [false, true, null]);
      assert.equal((await eventRow(db, r.event_id)).outcome, "unknown_reference");
      const none = await record(db, "evt-no-reference", null);
      assert.deepEqual([none.processed, none.payment], [true, null]);
    });

    await t.step("an event for a settled payment is processed as already_settled", async () => {
      const completed = await newPayment(db);
      await rpc(db, "credit_user", { p_reference: completed.reference, p_amount: 5000, p_currency: "NGN" });
      const r = await record(db, "evt-settled", completed.reference, { p_mark_processing: true, p_fence: 1 });
      assert.deepEqual([r.processed, r.payment?.state], [true, "completed"]);
      assert.equal((await eventRow(db, r.event_id)).outcome, "already_settled");

      const mismatched = await newPayment(db);
      await rpc(db, "credit_user", { p_reference: mismatched.reference, p_amount: 1, p_currency: "NGN" });
      const m = await record(db, "evt-mismatched", mismatched.reference, { p_mark_processing: true, p_fence: 1 });
      assert.deepEqual([m.processed, m.payment?.state], [true, "failed"]);
      assert.equal((await eventRow(db, m.event_id)).outcome, "already_settled");
    });

    await t.step(
      "a success event for a declined or abandoned payment stays open: the late success is confirmed",
      async () => {
        const p = await newPayment(db);
        await rpc(db, "fail_payment", { p_reference: p.reference, p_reason: "declined" });
        const r = await record(db, "evt-late", p.reference, { p_mark_processing: true, p_fence: 1 });
        assert.deepEqual([r.processed, r.payment?.state], [false, "failed"]);
        assert.equal((await eventRow(db, r.event_id)).outcome, null);
        // Recorded by a webhook that could not take the lock (no mark, no fence): still open, never already_settled.
        const deferred = await record(db, "evt-late-deferred", p.reference);
        assert.deepEqual([deferred.processed, deferred.payment?.state], [false, "failed"]);
        assert.equal((await eventRow(db, deferred.event_id)).outcome, null);
      },
    );

    await t.step(
      "events for a later provider attempt (<reference>.r<n>) resolve to the payment; others do not",
      async () => {
        const p = await newPayment(db);
        await rpc(db, "open_provider_attempt", { p_reference: p.reference });
        const second = await record(db, "evt-attempt-2", `${p.reference}.r2`, { p_mark_processing: true, p_fence: 1 });
        assert.equal(second.payment?.reference, p.reference);
        assert.equal(second.processed, false);
        const first = await record(db, "evt-attempt-1", p.reference);
        assert.equal(first.payment?.reference, p.reference);
        for (
          const [key, reference] of [["evt-attempt-3", `${p.reference}.r3`], ["evt-attempt-x", `${p.reference}.rx`]]
        ) {
          const unknown = await record(db, key!, reference!);
          assert.equal(unknown.payment, null);
          assert.equal((await eventRow(db, unknown.event_id)).outcome, "unknown_reference");
        }
      },
    );

    await t.step("events are deduplicated per provider", async () => {
      const p = await newPayment(db);
      const paystack = await record(db, "evt-shared", p.reference);
      const other = await record(db, "evt-shared", p.reference, { p_provider: "flutterwave" });
      assert.notEqual(paystack.event_id, other.event_id);
      assert.equal(other.duplicate, false);
    });

    await t.step("provider, key and type are required (PM008)", async () => {
      await assertSqlState(record(db, "evt-bad", null, { p_event_type: null }), "PM008");
    });
  } finally {
    await close();
  }
});

Deno.test("reconcile_candidates lists stuck payments, oldest first", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    const oldPending = await newPayment(db);
    const freshPending = await newPayment(db);
    const oldProcessing = await newPayment(db);
    const freshProcessing = await newPayment(db);
    const oldCompleted = await newPayment(db);
    await rpc(db, "mark_processing", { p_reference: oldProcessing.reference });
    await rpc(db, "mark_processing", { p_reference: freshProcessing.reference });
    await rpc(db, "credit_user", { p_reference: oldCompleted.reference, p_amount: 5000, p_currency: "NGN" });
    // Age the rows. The state-machine trigger owns these timestamps, so bypass
    // it the way a restore would (replica mode, superuser only).
    await db.transaction(async (tx) => {
      await tx.query("set local session_replication_role = replica");
      await tx.query(
        "update public.payment_logs set created_at = now() - interval '2 hours' where reference = any($1::text[])",
        [[oldPending.reference, oldCompleted.reference]],
      );
      await tx.query(
        `update public.payment_logs
            set created_at = now() - interval '3 hours', processing_started_at = now() - interval '10 minutes'
          where reference = $1`,
        [oldProcessing.reference],
      );
    });

    await t.step(
      "pending ages from creation, processing from its start; settled and fresh ones are left out",
      async () => {
        const candidates = await rpc<ReconcileCandidate[]>(db, "reconcile_candidates", {
          p_pending_older_than_seconds: 900,
          p_processing_older_than_seconds: 300,
        });
        assert.deepEqual(candidates.map((c) => [c.reference, c.state]), [
          [oldPending.reference, "pending"],
          [oldProcessing.reference, "processing"],
        ]);
        const [pending, processing] = candidates;
        assert.ok(pending!.age_seconds >= 7200 && pending!.age_seconds < 7300);
        assert.ok(processing!.age_seconds >= 600 && processing!.age_seconds < 700);
        assert.equal(processing!.created_at, (await paymentOf(db, oldProcessing.reference)).created_at);
      },
    );

    await t.step("thresholds and limit are honoured", async () => {
      const all = await rpc<ReconcileCandidate[]>(db, "reconcile_candidates", {
        p_pending_older_than_seconds: 0,
        p_processing_older_than_seconds: 0,
        p_limit: 10,
      });
      assert.deepEqual(
        new Set(all.map((c) => c.reference)),
        new Set([
          oldPending.reference,
          freshPending.reference,
          oldProcessing.reference,
          freshProcessing.reference,
        ]),
      );
      assert.equal(all[0]?.reference, oldPending.reference);
      const one = await rpc<ReconcileCandidate[]>(db, "reconcile_candidates", {
        p_pending_older_than_seconds: 0,
        p_processing_older_than_seconds: 0,
        p_limit: 1,
      });
      assert.deepEqual(one.map((c) => c.reference), [oldPending.reference]);
    });

    await t.step("nothing due is an empty array", async () => {
      await inRollback(db, async (tx) => {
        await tx.query("update public.payment_logs set state = 'failed' where state in ('pending', 'processing')");
        assert.deepEqual(await rpc(tx, "reconcile_candidates"), []);
      });
    });
  } finally {
    await close();
  }
});

Deno.test("webhook_events.outcome: the SQL check and WEBHOOK_EVENT_OUTCOMES name the same closed list", async () => {
  const { db, close } = await createTestDatabase();
  try {
    const [row] = await db.query<{ def: string }>(
      `select pg_get_constraintdef(c.oid) as def from pg_constraint c
        where c.conrelid = 'public.webhook_events'::regclass and c.contype = 'c'
          and pg_get_constraintdef(c.oid) like '%outcome%'`,
    );
    assert.ok(row, "a check constraint on outcome exists");
    const inSql = [...row.def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]).sort();
    assert.deepEqual(inSql, [...WEBHOOK_EVENT_OUTCOMES].sort());
    // Every credit outcome is a webhook outcome (credit_user records its outcome on the event).
    const credit: readonly WebhookEventOutcome[] = CREDIT_OUTCOMES;
    assert.ok(credit.every((o) => WEBHOOK_EVENT_OUTCOMES.includes(o)));
    await assertSqlState(
      db.query(
        `insert into public.webhook_events (provider, event_key, event_type, outcome) values ('x', 'y', 'z', 'made_up')`,
      ),
      "23514",
    );
  } finally {
    await close();
  }
});
