import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { createInitializePayment } from "../../src/payments/initialize_payment.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import type { PaymentStore } from "../../src/store/payment_store.ts";

Deno.test("initialize recovers from a crash after the provider call", async (t) => {
  const stack = await startTestStack();
  const sandbox = stack.runtime.sandbox!;
  try {
    await t.step("continues from payment_created without a second provider transaction", async () => {
      const userId = crypto.randomUUID();
      const key = crypto.randomUUID();
      const body = { amount: 700_000, currency: "NGN" };
      // The process dies right after the provider answered: phase 3 never runs.
      const crashing: PaymentStore = {
        ...stack.runtime.store,
        completePaymentRequest: () => Promise.reject(new Error("process killed")),
      };
      const initialize = createInitializePayment({
        store: crashing,
        provider: createPaystackProvider({
          secretKey: stack.config.provider.secretKey,
          baseUrl: stack.config.provider.baseUrl,
        }),
        logger: silentLogger,
        idempotency: stack.config.idempotency,
      });
      await assert.rejects(
        initialize({
          userId,
          tokenEmail: "payer@example.test",
          idempotencyKey: key,
          method: "POST",
          path: "/v1/payments",
          body,
        }),
        /process killed/,
      );
      const [before] = await stack.database.db.query<{ reference: string; recovery_point: string; locked: boolean }>(
        `select p.reference, k.recovery_point, k.locked_at is not null as locked
         from idempotency_keys k join payment_logs p on p.id = k.payment_log_id where k.user_id = $1`,
        [userId],
      );
      assert.equal(before?.recovery_point, "payment_created");
      assert.equal(before?.locked, true);

      // A retry while the dead request still holds the key is told to wait.
      const token = await stack.userToken(userId);
      const headers = { "Idempotency-Key": key };
      await expectProblem(
        await send(stack, "POST", "/v1/payments", { token, body, headers }),
        409,
        "idempotency_key_in_use",
      );

      // Past the in-flight timeout, the retry takes over from the recovery point.
      await stack.database.db.query(
        "update idempotency_keys set locked_at = now() - interval '1 hour' where user_id = $1",
        [userId],
      );
      const initializeCalls = sandbox.stats.calls.initialize;
      const res = await send(stack, "POST", "/v1/payments", { token, body, headers });
      const json = await expectJson(res, 201);
      assert.equal(json.reference, before!.reference);
      assert.match(String(json.authorization_url), /\/checkout\//);
      // The provider was asked again with the same reference and refused a
      // duplicate: still exactly one transaction there.
      assert.equal(sandbox.stats.calls.initialize - initializeCalls, 1);
      const [count] = await stack.database.db.query<{ n: string }>(
        "select count(*)::int8 as n from sandbox_paystack.transactions where reference = $1",
        [before!.reference],
      );
      assert.equal(Number(count!.n), 1);
      const replay = await send(stack, "POST", "/v1/payments", { token, body, headers });
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(await replay.json(), json);
    });
  } finally {
    await stack.close();
  }
});
