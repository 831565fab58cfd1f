import assert from "node:assert/strict";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import {
  creditsOf,
  initializeThenCrash,
  ledgerViolations,
  payAtCheckout,
  paymentRow,
} from "../support/payment_flow.ts";

Deno.test("initialize recovers from a crash after the provider call", async (t) => {
  const stack = await startTestStack();
  const sandbox = stack.runtime.sandbox!;
  try {
    await t.step(
      "continues from payment_created: the lost checkout is replaced by a new provider attempt, and paying it credits",
      async () => {
        const userId = crypto.randomUUID();
        const key = crypto.randomUUID();
        const body = { amount: 700_000, currency: "NGN" };
        // The process dies right after the provider answered: phase 3 never runs.
        await initializeThenCrash(stack, { userId, key, body });
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
        // The provider refused the known reference as a duplicate and cannot
        // hand its checkout back (verify carries no access code): a second
        // attempt was opened under <reference>.r2 — one transaction each, and
        // nobody ever saw the first one's checkout.
        assert.equal(sandbox.stats.calls.initialize - initializeCalls, 2);
        const transactions = await stack.database.db.query<{ reference: string }>(
          "select reference from sandbox_paystack.transactions where reference like $1 order by reference",
          [`${before!.reference}%`],
        );
        assert.deepEqual(transactions.map((r) => r.reference), [before!.reference, `${before!.reference}.r2`]);
        const [row] = await stack.database.db.query<{ provider_reference: string; provider_attempt: number }>(
          "select provider_reference, provider_attempt from payment_logs where reference = $1",
          [before!.reference],
        );
        assert.deepEqual(row, { provider_reference: `${before!.reference}.r2`, provider_attempt: 2 });
        const replay = await send(stack, "POST", "/v1/payments", { token, body, headers });
        assert.equal(replay.headers.get("idempotent-replayed"), "true");
        assert.deepEqual(await replay.json(), json);

        // Paying the new attempt credits the payment once (its webhook names <reference>.r2).
        await payAtCheckout({
          userId,
          token,
          reference: before!.reference,
          authorizationUrl: String(json.authorization_url),
          amount: body.amount,
          currency: body.currency,
        }, "success");
        await sandbox.idle();
        assert.equal((await paymentRow(stack, before!.reference)).state, "completed");
        assert.equal(await creditsOf(stack, before!.reference), 1);
        assert.deepEqual(await ledgerViolations(stack), []);
      },
    );
  } finally {
    await stack.close();
  }
});
