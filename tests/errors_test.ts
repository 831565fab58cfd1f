import assert from "node:assert/strict";
import { AppError, ERROR_TABLE } from "../src/errors.ts";
import { toProblem } from "../src/http/problem.ts";

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
