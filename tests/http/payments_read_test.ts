import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";

Deno.test("reading payments", async (t) => {
  const stack = await startTestStack();
  try {
    const owner = crypto.randomUUID();
    const token = await stack.userToken(owner);
    const references: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(stack, "POST", "/v1/payments", {
        token,
        body: { amount: 10_000 + i, currency: "NGN" },
        headers: { "Idempotency-Key": `read-${i}` },
      });
      references.push(String((await expectJson(res, 201)).reference));
    }

    await t.step("GET /v1/payments/:reference returns the owner's payment with its history", async () => {
      const body = await expectJson(await send(stack, "GET", `/v1/payments/${references[0]}`, { token }), 200);
      assert.equal(body.reference, references[0]);
      assert.equal(body.state, "pending");
      assert.equal(body.amount, 10_000);
      assert.equal(typeof body.lock_version, "number");
      const history = body.state_transitions as Array<Record<string, unknown>>;
      assert.equal(history[0]?.to, "pending");
      assert.equal(history[0]?.from, null);
      for (const hidden of ["user_id", "provider_payload", "last_fence", "access_code"]) assert.ok(!(hidden in body));
    });

    await t.step("someone else's payment is 404, like a missing one", async () => {
      const stranger = await stack.userToken();
      const theirs = await expectProblem(
        await send(stack, "GET", `/v1/payments/${references[0]}`, { token: stranger }),
        404,
        "payment_not_found",
      );
      const missing = await expectProblem(
        await send(stack, "GET", "/v1/payments/pay-doesnotexist", { token: stranger }),
        404,
        "payment_not_found",
      );
      assert.equal(theirs.title, missing.title);
      await expectProblem(await send(stack, "GET", "/v1/payments/bad%20ref!", { token }), 404, "payment_not_found");
    });

    await t.step("GET /v1/payments lists own payments newest first with a cursor", async () => {
      const page1 = await expectJson<{ items: Array<{ reference: string }>; next_cursor: string | null }>(
        await send(stack, "GET", "/v1/payments?limit=3", { token }),
        200,
      );
      assert.deepEqual(page1.items.map((p) => p.reference), references.slice().reverse().slice(0, 3));
      assert.ok(page1.next_cursor);
      const page2 = await expectJson<{ items: Array<{ reference: string }>; next_cursor: string | null }>(
        await send(stack, "GET", `/v1/payments?limit=3&cursor=${page1.next_cursor}`, { token }),
        200,
      );
      assert.deepEqual(page2.items.map((p) => p.reference), references.slice().reverse().slice(3));
      assert.equal(page2.next_cursor, null);
      const other = await expectJson<{ items: unknown[] }>(
        await send(stack, "GET", "/v1/payments", { token: await stack.userToken() }),
        200,
      );
      assert.deepEqual(other.items, []);
    });

    await t.step("bad limit or cursor → 422", async () => {
      await expectProblem(await send(stack, "GET", "/v1/payments?limit=101", { token }), 422, "validation_failed");
      await expectProblem(await send(stack, "GET", "/v1/payments?limit=0", { token }), 422, "validation_failed");
      await expectProblem(await send(stack, "GET", "/v1/payments?cursor=zzz", { token }), 422, "validation_failed");
    });
  } finally {
    await stack.close();
  }
});
