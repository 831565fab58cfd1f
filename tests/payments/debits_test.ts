/**
 * `POST /v1/wallet/debits` through the real stack (supabase-js → gateway →
 * Postgres): the SMS platform spends credit, idempotently, never below zero.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { balanceOf, createPayment, ledgerViolations, payAtCheckout } from "../support/payment_flow.ts";

type Debit = { id: string; reference: string; amount: number; currency: string; reason: string; balance_after: number };

/** A user with `amount` NGN of credit, paid through the sandbox checkout. */
async function fundedUser(stack: TestStack, amount: number): Promise<string> {
  const payment = await createPayment(stack, { amount });
  await payAtCheckout(payment, "success");
  await stack.runtime.sandbox!.idle();
  assert.equal(await balanceOf(stack, payment.userId), amount);
  return payment.userId;
}

async function debitCount(stack: TestStack, userId: string): Promise<number> {
  const [row] = await stack.database.db.query<{ n: string }>(
    "select count(*)::int8 as n from sms_transactions where user_id = $1 and type = 'debit'",
    [userId],
  );
  return Number(row!.n);
}

Deno.test("POST /v1/wallet/debits", async (t) => {
  const stack = await startTestStack();
  try {
    const service = await stack.serviceToken();
    const debit = (body: Record<string, unknown>, key: string, token = service) =>
      send(stack, "POST", "/v1/wallet/debits", { token, body, headers: { "Idempotency-Key": key } });

    await t.step("a debit moves the balance and writes a debit entry with its reason", async () => {
      const userId = await fundedUser(stack, 100_000);
      const res = await debit({ user_id: userId, amount: 30_000, currency: "NGN", reason: "sms batch 1" }, "d-1");
      const body = await expectJson<Debit>(res, 201);
      assert.equal(res.headers.get("idempotent-replayed"), null);
      assert.deepEqual([body.amount, body.currency, body.reason, body.balance_after], [
        30_000,
        "NGN",
        "sms batch 1",
        70_000,
      ]);
      assert.equal(await balanceOf(stack, userId), 70_000);
      const wallet = await expectJson<{ entries: Array<{ type: string; amount: number }> }>(
        await send(stack, "GET", "/v1/wallet", { token: await stack.userToken(userId) }),
        200,
      );
      assert.deepEqual(wallet.entries.map((e) => [e.type, e.amount]), [["debit", 30_000], ["credit", 100_000]]);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step(
      "the same key replays the first debit; with another body it is 422 idempotency_key_reused",
      async () => {
        const userId = await fundedUser(stack, 100_000);
        const body = { user_id: userId, amount: 10_000, currency: "NGN", reason: "sms" };
        const first = await expectJson<Debit>(await debit(body, "d-2"), 201);
        const again = await debit(body, "d-2");
        assert.equal(again.headers.get("idempotent-replayed"), "true");
        assert.deepEqual(await expectJson<Debit>(again, 201), first);
        await expectProblem(await debit({ ...body, amount: 20_000 }, "d-2"), 422, "idempotency_key_reused");
        assert.equal(await debitCount(stack, userId), 1);
        assert.equal(await balanceOf(stack, userId), 90_000);
      },
    );

    await t.step("the same key sent 10 times at once debits once", async () => {
      const userId = await fundedUser(stack, 100_000);
      const body = { user_id: userId, amount: 25_000, currency: "NGN", reason: "sms" };
      const answers = await Promise.all(Array.from({ length: 10 }, () => debit(body, "d-storm")));
      const ids = new Set<string>();
      for (const res of answers) ids.add((await expectJson<Debit>(res, 201)).id);
      assert.equal(ids.size, 1);
      assert.equal(await debitCount(stack, userId), 1);
      assert.equal(await balanceOf(stack, userId), 75_000);
    });

    await t.step("a debit that would overdraw is 409 insufficient_balance and writes nothing", async () => {
      const userId = await fundedUser(stack, 100_000);
      await expectProblem(
        await debit({ user_id: userId, amount: 100_001, currency: "NGN", reason: "too much" }, "d-3"),
        409,
        "insufficient_balance",
      );
      // No wallet in that currency at all: the same answer.
      await expectProblem(
        await debit({ user_id: userId, amount: 1, currency: "GHS", reason: "other currency" }, "d-4"),
        409,
        "insufficient_balance",
      );
      assert.equal(await debitCount(stack, userId), 0);
      assert.equal(await balanceOf(stack, userId), 100_000);
      // The key was not used up by the refusal: a corrected retry goes through.
      await expectJson(await debit({ user_id: userId, amount: 100_000, currency: "NGN", reason: "all" }, "d-3"), 201);
      assert.equal(await balanceOf(stack, userId), 0);
      assert.deepEqual(await ledgerViolations(stack), []);
    });

    await t.step("only the service role; Idempotency-Key required; bad bodies are 422, nothing written", async () => {
      const userId = await fundedUser(stack, 100_000);
      const body = { user_id: userId, amount: 1_000, currency: "NGN", reason: "sms" };
      await expectProblem(await debit(body, "d-5", await stack.userToken(userId)), 403, "forbidden");
      await expectProblem(
        await send(stack, "POST", "/v1/wallet/debits", { token: service, body }),
        400,
        "idempotency_key_missing",
      );
      for (
        const bad of [
          { ...body, amount: 0 },
          { ...body, amount: 1.5 },
          { ...body, currency: "XXX" },
          {
            ...body,
            user_id: "nope",
          },
          { ...body, reason: "" },
          { ...body, extra: 1 },
        ]
      ) {
        await expectProblem(await debit(bad, "d-6"), 422, "validation_failed");
      }
      assert.equal(await debitCount(stack, userId), 0);
    });
  } finally {
    await stack.close();
  }
});
