/**
 * Authentication at the HTTP boundary: tokens the verifier must refuse even
 * though they are correctly signed, answered 401 `invalid_token` on user and
 * service routes alike, never a 500 from further down.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startTestStack } from "../support/stack.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";

Deno.test("auth: correctly signed but unacceptable tokens", async (t) => {
  const stack = await startTestStack({ redis: false });
  const secret = new TextEncoder().encode(stack.config.auth.jwtSecret!);
  /** Signs `claims` with the stack's secret; `exp` only when given. */
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().sign(secret);
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
  try {
    await t.step("a user token without exp → 401 invalid_token", async () => {
      const token = await sign({ role: "authenticated", aud: "authenticated", sub: crypto.randomUUID() });
      for (const path of ["/v1/payments", "/v1/wallet"]) {
        const body = await expectProblem(await send(stack, "GET", path, { token }), 401, "invalid_token");
        assert.match(String(body.detail), /expiry/);
      }
    });

    await t.step("a service-role token without exp → 401 invalid_token", async () => {
      const token = await sign({ role: "service_role" });
      await expectProblem(await send(stack, "POST", "/v1/jobs/reconcile", { token }), 401, "invalid_token");
    });

    await t.step("a sub that is not a UUID (36 dashes) → 401 invalid_token, not a 500", async () => {
      for (const sub of ["-".repeat(36), "ffffffff-ffff-ffff-ffff-fffffffffffg", "root"]) {
        const token = await sign({ role: "authenticated", aud: "authenticated", sub, exp: inAnHour() });
        for (const path of ["/v1/payments", "/v1/wallet", "/v1/payments/pay-1"]) {
          const body = await expectProblem(await send(stack, "GET", path, { token }), 401, "invalid_token");
          assert.match(String(body.detail), /sub/, `${path} with sub ${sub}`);
        }
      }
    });

    await t.step("the same claims with a UUID sub and an exp are accepted", async () => {
      const token = await sign({
        role: "authenticated",
        aud: "authenticated",
        sub: crypto.randomUUID(),
        exp: inAnHour(),
      });
      const body = await expectJson<{ items: unknown[] }>(await send(stack, "GET", "/v1/payments", { token }), 200);
      assert.deepEqual(body.items, []);
    });
  } finally {
    await stack.close();
  }
});
