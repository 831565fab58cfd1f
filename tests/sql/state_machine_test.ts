import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import { pathsFromPending } from "../support/payment_paths.ts";
import { canTransition, PAYMENT_STATES, type PaymentState } from "../../src/payments/payment_state.ts";
import type { Payment } from "../../src/payments/payment_store.ts";
import { assertSqlState, inRollback, newPayment, paymentOf, rpc, walk } from "./sql_test_kit.ts";

/** A legal path from pending to each state. */
const PATH_TO = pathsFromPending();

Deno.test("payment state machine (trigger on payment_logs)", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    await t.step("a new payment is pending with one history entry by the api", async () => {
      const p = await newPayment(db);
      assert.equal(p.state, "pending");
      assert.equal(p.lock_version, 0);
      assert.equal(p.state_transitions.length, 1);
      const [first] = p.state_transitions;
      assert.deepEqual({ ...first, at: undefined }, {
        from: null,
        to: "pending",
        at: undefined,
        actor: "api",
        reason: "initialize",
      });
      assert.match(p.reference, /^pay-[0-9a-f]{32}$/);
      assert.equal(p.processing_started_at, null);
    });

    await t.step("every legal transition is accepted, recorded, versioned and timestamped", async () => {
      const legal: [PaymentState, PaymentState][] = [];
      for (const from of PAYMENT_STATES) {
        for (const to of PAYMENT_STATES) if (canTransition(from, to)) legal.push([from, to]);
      }
      assert.equal(legal.length, 6);
      for (const [from, to] of legal) {
        const created = await newPayment(db);
        const before = await walk(db, created.reference, PATH_TO[from]);
        assert.equal(before.state, from);
        const after = await rpc<Payment>(db, "transition_payment", {
          p_reference: created.reference,
          p_to: to,
          p_expected_lock_version: before.lock_version,
          p_actor: "staff:42",
          p_reason: `move ${from} to ${to}`,
        });
        assert.equal(after.state, to);
        assert.equal(after.lock_version, before.lock_version + 1);
        assert.equal(after.state_transitions.length, before.state_transitions.length + 1);
        const last = after.state_transitions.at(-1)!;
        assert.equal(last.from, from);
        assert.equal(last.to, to);
        assert.equal(last.actor, "staff:42");
        assert.equal(last.reason, `move ${from} to ${to}`);
        assert.equal(last.at, after.updated_at);
        assert.ok(after.updated_at >= before.updated_at);
        if (to === "processing") assert.equal(after.processing_started_at, after.updated_at);
        if (to === "completed" || to === "failed") assert.equal(after.processing_completed_at, after.updated_at);
        if (to === "refunded") {
          // Refunding does not move the processing timestamps.
          assert.equal(after.processing_completed_at, before.processing_completed_at);
          assert.equal(after.processing_started_at, before.processing_started_at);
        }
        if (from === "pending" && to === "failed") assert.equal(after.processing_started_at, null);
      }
    });

    await t.step("every illegal transition is refused with PM001, by the RPC and by a direct UPDATE", async () => {
      let refused = 0;
      for (const from of PAYMENT_STATES) {
        for (const to of PAYMENT_STATES) {
          if (canTransition(from, to)) continue;
          const created = await newPayment(db);
          const at = await walk(db, created.reference, PATH_TO[from]);
          await assertSqlState(
            rpc(db, "transition_payment", {
              p_reference: at.reference,
              p_to: to,
              p_expected_lock_version: at.lock_version,
              p_actor: "test",
            }),
            "PM001",
          );
          if (from !== to) {
            await assertSqlState(
              db.query("update public.payment_logs set state = $1::public.payment_state where reference = $2", [
                to,
                at.reference,
              ]),
              "PM001",
            );
          }
          const unchanged = await paymentOf(db, at.reference);
          assert.equal(unchanged.state, from);
          assert.equal(unchanged.lock_version, at.lock_version);
          refused++;
        }
      }
      assert.equal(refused, 19);
    });

    await t.step(
      "failed → processing (late success) is refused after an amount mismatch, by the RPC and by UPDATE",
      async () => {
        const created = await newPayment(db);
        await rpc(db, "credit_user", { p_reference: created.reference, p_amount: 1, p_currency: "NGN" });
        const failed = await paymentOf(db, created.reference);
        assert.equal(failed.state, "failed");
        await assertSqlState(
          rpc(db, "transition_payment", {
            p_reference: created.reference,
            p_to: "processing",
            p_expected_lock_version: failed.lock_version,
            p_actor: "test",
          }),
          "PM001",
        );
        await assertSqlState(
          db.query("update public.payment_logs set state = 'processing' where reference = $1", [created.reference]),
          "PM001",
        );
        assert.equal((await paymentOf(db, created.reference)).state, "failed");
      },
    );

    await t.step("a payment cannot be inserted in a state other than pending", async () => {
      await assertSqlState(
        db.query(
          `insert into public.payment_logs (user_id, reference, amount, currency, state)
           values (gen_random_uuid(), 'pay-direct-1', 100, 'NGN', 'completed')`,
        ),
        "PM001",
      );
    });

    await t.step("a direct UPDATE cannot forge history, version or timestamps", async () => {
      const p = await walk(db, (await newPayment(db)).reference, ["processing"]);
      await db.query(
        `update public.payment_logs
            set state_transitions = '[]', lock_version = 1000, processing_started_at = '2000-01-01',
                processing_completed_at = '2000-01-02', failure_reason = 'touched'
          where reference = $1`,
        [p.reference],
      );
      const after = await paymentOf(db, p.reference);
      assert.deepEqual(after.state_transitions, p.state_transitions);
      assert.equal(after.lock_version, p.lock_version + 1);
      assert.equal(after.processing_started_at, p.processing_started_at);
      assert.equal(after.processing_completed_at, null);
      assert.equal(after.failure_reason, "touched");
    });

    await t.step("a direct state UPDATE is recorded with the default actor 'system'", async () => {
      const p = await newPayment(db);
      await db.query("update public.payment_logs set state = 'processing' where reference = $1", [p.reference]);
      const last = (await paymentOf(db, p.reference)).state_transitions.at(-1)!;
      assert.deepEqual([last.from, last.to, last.actor, last.reason], ["pending", "processing", "system", null]);
    });

    await t.step("amount, currency, owner and reference of a payment never change (PM008)", async () => {
      const p = await newPayment(db);
      for (const set of ["amount = 1", "currency = 'USD'", "user_id = gen_random_uuid()", "reference = 'pay-other'"]) {
        await assertSqlState(
          db.query(`update public.payment_logs set ${set} where reference = $1`, [p.reference]),
          "PM008",
        );
      }
    });

    await t.step("transition_payment refuses a stale version with PM002 and a missing payment with PM004", async () => {
      const p = await newPayment(db);
      await walk(db, p.reference, ["processing"]);
      await assertSqlState(
        rpc(db, "transition_payment", {
          p_reference: p.reference,
          p_to: "completed",
          p_expected_lock_version: p.lock_version,
          p_actor: "test",
        }),
        "PM002",
      );
      await assertSqlState(
        rpc(db, "transition_payment", {
          p_reference: "pay-missing",
          p_to: "processing",
          p_expected_lock_version: 0,
          p_actor: "test",
        }),
        "PM004",
      );
      assert.equal((await paymentOf(db, p.reference)).state, "processing");
    });

    await t.step("transition_payment applies the fence rule", async () => {
      const p = await newPayment(db);
      const fenced = await rpc<{ payment: Payment }>(db, "mark_processing", { p_reference: p.reference, p_fence: 5 });
      await assertSqlState(
        rpc(db, "transition_payment", {
          p_reference: p.reference,
          p_to: "failed",
          p_expected_lock_version: fenced.payment.lock_version,
          p_actor: "test",
          p_fence: 4,
        }),
        "PM003",
      );
      const done = await rpc<Payment>(db, "transition_payment", {
        p_reference: p.reference,
        p_to: "failed",
        p_expected_lock_version: fenced.payment.lock_version,
        p_actor: "test",
        p_fence: 6,
      });
      assert.equal(done.state, "failed");
      const [row] = await db.query<{ last_fence: string }>(
        "select last_fence from public.payment_logs where reference = $1",
        [p.reference],
      );
      assert.equal(row?.last_fence, "6");
    });

    await t.step("the trigger's work is rolled back with the transaction", async () => {
      const p = await newPayment(db);
      await inRollback(
        db,
        (tx) => tx.query("update public.payment_logs set state = 'failed' where reference = $1", [p.reference]),
      );
      const after = await paymentOf(db, p.reference);
      assert.equal(after.state, "pending");
      assert.equal(after.state_transitions.length, 1);
    });
  } finally {
    await close();
  }
});
