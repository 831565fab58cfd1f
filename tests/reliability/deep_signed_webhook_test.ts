/**
 * A correctly signed webhook whose JSON nests a few thousand levels deep (6
 * KB, far below the body limit) used to be answered 503
 * `database_unavailable`: supabase-js' JSON.stringify of the payload threw a
 * RangeError (call stack), reported as a failed request (status 0), which the
 * store maps to "database unreachable" — and the provider retried an event
 * that could never be stored. Bodies nested deeper than any real one are now
 * refused at the edge with a 400 (src/http/json_depth.ts).
 */
import assert from "node:assert/strict";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { startTestStack } from "../support/stack.ts";

Deno.test("a signed webhook nested 3,000 levels deep is not answered with a 5xx", async () => {
  const stack = await startTestStack({ redis: false });
  try {
    const depth = 3_000;
    const body = `{"event":"charge.success","data":{"id":1,"reference":"pay-x","amount":1,"currency":"NGN",` +
      `"status":"success","meta":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
    const res = await fetch(`${stack.url}/v1/webhooks/paystack`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-paystack-signature": await signPaystackBody(stack.config.provider.secretKey, body),
      },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.equal(JSON.parse(text).code, "bad_request");
  } finally {
    await stack.close();
  }
});
