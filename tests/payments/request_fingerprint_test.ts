import assert from "node:assert/strict";
import { canonicalJson, requestFingerprint } from "../../src/payments/request_fingerprint.ts";

Deno.test("canonicalJson() sorts keys at every depth and keeps array order", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(canonicalJson({ a: undefined, b: "x" }), '{"b":"x"}');
});

Deno.test("requestFingerprint() ignores key order but not values, method or path", async () => {
  const a = await requestFingerprint("POST", "/v1/payments", { amount: 5000, currency: "NGN" });
  assert.equal(a, await requestFingerprint("post", "/v1/payments", { currency: "NGN", amount: 5000 }));
  assert.notEqual(a, await requestFingerprint("POST", "/v1/payments", { amount: 5001, currency: "NGN" }));
  assert.notEqual(a, await requestFingerprint("PUT", "/v1/payments", { amount: 5000, currency: "NGN" }));
  assert.notEqual(a, await requestFingerprint("POST", "/v1/other", { amount: 5000, currency: "NGN" }));
  assert.match(a, /^[0-9a-f]{64}$/);
});
