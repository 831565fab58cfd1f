import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { type CreatedPayment, createPayment, payAtCheckout } from "../support/payment_flow.ts";

type Wallet = {
  balances: Array<{ currency: string; balance: number }>;
  entries: Array<{ type: string; amount: number; balance_after: number; payment_reference: string }>;
  next_cursor: string | null;
};

Deno.test("GET /v1/wallet", async (t) => {
  const stack = await startTestStack();
  try {
    const userId = crypto.randomUUID();
    const paid: CreatedPayment[] = [];
    for (const [amount, currency] of [[10_000, "NGN"], [20_000, "NGN"], [30_000, "GHS"]] as const) {
      const payment = await createPayment(stack, { userId, amount, currency });
      await payAtCheckout(payment, "success");
      // Wait for this credit before paying the next: the ledger order under
      // test is the credit order, which racing webhooks would leave open.
      await stack.runtime.sandbox!.idle();
      paid.push(payment);
    }
    const token = paid[0]!.token;

    await t.step("balances per currency and the ledger, newest first", async () => {
      const wallet = await expectJson<Wallet>(await send(stack, "GET", "/v1/wallet", { token }), 200);
      const balances = Object.fromEntries(wallet.balances.map((b) => [b.currency, b.balance]));
      assert.deepEqual(balances, { NGN: 30_000, GHS: 30_000 });
      assert.deepEqual(wallet.entries.map((e) => e.payment_reference), paid.map((p) => p.reference).reverse());
      assert.ok(wallet.entries.every((e) => e.type === "credit"));
      assert.deepEqual(wallet.entries.map((e) => e.balance_after), [30_000, 30_000, 10_000]);
    });

    await t.step("cursor pagination walks every entry once", async () => {
      const first = await expectJson<Wallet>(await send(stack, "GET", "/v1/wallet?limit=2", { token }), 200);
      assert.equal(first.entries.length, 2);
      assert.ok(first.next_cursor);
      const second = await expectJson<Wallet>(
        await send(stack, "GET", `/v1/wallet?limit=2&cursor=${first.next_cursor}`, { token }),
        200,
      );
      assert.equal(second.entries.length, 1);
      assert.equal(second.next_cursor, null);
    });

    await t.step("another user sees an empty wallet, never these entries", async () => {
      const other = await expectJson<Wallet>(
        await send(stack, "GET", "/v1/wallet", { token: await stack.userToken() }),
        200,
      );
      assert.deepEqual(other, { balances: [], entries: [], next_cursor: null });
    });

    await t.step("needs a user token; bad paging → 422", async () => {
      await expectProblem(await stack.request("/v1/wallet"), 401, "unauthorized");
      await expectProblem(await send(stack, "GET", "/v1/wallet?limit=abc", { token }), 422, "validation_failed");
    });
  } finally {
    await stack.close();
  }
});
