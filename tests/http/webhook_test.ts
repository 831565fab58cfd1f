import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem } from "../support/http_helpers.ts";
import {
  chargeSuccessBody,
  createPayment,
  creditsOf,
  paymentRow,
  payWithoutWebhook,
  postWebhook,
} from "../support/payment_flow.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";

Deno.test("POST /v1/webhooks/paystack", async (t) => {
  const stack = await startTestStack();
  const sandbox = stack.runtime.sandbox!;
  const eventCount = async () =>
    Number((await stack.database.db.query<{ n: string }>("select count(*)::int8 as n from webhook_events"))[0]!.n);
  try {
    const payment = await createPayment(stack);
    await payWithoutWebhook(stack, payment);
    const body = chargeSuccessBody(payment, 4242);

    await t.step("forged, truncated, re-signed, wrong-key and missing signatures → 401, nothing written", async () => {
      const before = await eventCount();
      const good = await signPaystackBody(stack.config.provider.secretKey, body);
      const cases: Array<[string, string, string | null]> = [
        ["forged", body, "0".repeat(128)],
        ["truncated", body, good.slice(0, 64)],
        ["other key", body, await signPaystackBody("sk_test_someone_else", body)],
        ["missing", body, null],
        ["body changed after signing", body.replace(String(payment.amount), "1"), good],
        ["uppercase hex of another body", body, (await signPaystackBody("x", body)).toUpperCase()],
      ];
      for (const [name, raw, signature] of cases) {
        const res = await postWebhook(stack, raw, { signature });
        await expectProblem(res, 401, "invalid_signature").catch((e) => {
          throw new Error(`${name}: ${e.message}`);
        });
      }
      assert.equal(await eventCount(), before);
      assert.equal((await paymentRow(stack, payment.reference)).state, "pending");
    });

    await t.step("a signed but malformed body → 400", async () => {
      await expectProblem(await postWebhook(stack, "{not json"), 400, "malformed_json");
      await expectProblem(await postWebhook(stack, JSON.stringify({ hello: 1 })), 400, "bad_request");
    });

    await t.step("a valid charge.success credits, confirmed with the provider's verify API", async () => {
      const verifyCalls = sandbox.stats.calls.verify;
      const res = await postWebhook(stack, body);
      assert.deepEqual(await expectJson(res, 200), { received: true, outcome: "credited" });
      assert.equal(sandbox.stats.calls.verify - verifyCalls, 1);
      assert.equal((await paymentRow(stack, payment.reference)).state, "completed");
    });

    await t.step("the same event again → 200, nothing changes", async () => {
      const before = await paymentRow(stack, payment.reference);
      const res = await postWebhook(stack, body);
      assert.deepEqual(await expectJson(res, 200), { received: true, outcome: "duplicate" });
      assert.deepEqual(await paymentRow(stack, payment.reference), before);
      assert.equal(await creditsOf(stack, payment.reference), 1);
    });

    await t.step("an event for an unknown reference is recorded and answered 200", async () => {
      const raw = chargeSuccessBody({ ...payment, reference: "pay-unknown-ref" }, 777);
      assert.equal((await expectJson(await postWebhook(stack, raw), 200)).received, true);
      const [row] = await stack.database.db.query<{ outcome: string; processed: boolean }>(
        "select outcome, processed_at is not null as processed from webhook_events where reference = 'pay-unknown-ref'",
      );
      assert.equal(row?.processed, true);
      assert.equal(row?.outcome, "unknown_reference");
    });

    await t.step("other event types are recorded and answered 200", async () => {
      const raw = JSON.stringify({ event: "transfer.success", data: { id: 99, reference: "trf-1" } });
      assert.equal((await expectJson(await postWebhook(stack, raw), 200)).received, true);
    });

    await t.step("webhook routes: 405 for GET", async () => {
      await expectProblem(await stack.request("/v1/webhooks/paystack"), 405, "method_not_allowed");
    });
  } finally {
    await stack.close();
  }
});
