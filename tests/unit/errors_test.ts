import assert from "node:assert/strict";
import { AppError, ERROR_TABLE, errorFromSqlState, SQLSTATES, toProblem } from "../../src/errors.ts";

Deno.test("toProblem() renders RFC 9457 fields with the stable code", () => {
  const problem = toProblem(new AppError("idempotency_key_reused", { detail: "used before" }), "req-1");
  assert.deepEqual(problem, {
    type: "https://docs.sms-payments.dev/problems/idempotency_key_reused",
    title: ERROR_TABLE.idempotency_key_reused[1],
    status: 422,
    detail: "used before",
    code: "idempotency_key_reused",
    request_id: "req-1",
  });
});

Deno.test("errorFromSqlState() maps every SQLSTATE of ours", async (t) => {
  for (const [state, name] of Object.entries(SQLSTATES)) {
    await t.step(`${state} (${name})`, () => {
      const error = errorFromSqlState(state, "msg");
      if (name === "ledger_append_only") assert.equal(error, undefined);
      else if (name === "invalid_argument") assert.equal(error?.code, "validation_failed");
      else assert.equal(error?.code, name);
    });
  }
  await t.step("connection failures are database_unavailable", () => {
    assert.equal(errorFromSqlState("08006", "x")?.code, "database_unavailable");
    assert.equal(errorFromSqlState("57P01", "x")?.status, 503);
  });
  await t.step("anything else is not a client error", () => {
    assert.equal(errorFromSqlState("23505", "dup"), undefined);
  });
});
