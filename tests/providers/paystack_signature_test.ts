import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { signPaystackBody, verifyPaystackSignature } from "../../src/providers/paystack_signature.ts";

const SECRET = "sk_test_sandbox";
const BODY = '{"event":"charge.success","data":{"reference":"pay-1","amount":50000,"currency":"NGN"}}';

/** Reference implementation, independent of WebCrypto. */
function nodeHmac(secret: string, body: string | Uint8Array): string {
  return createHmac("sha512", secret).update(body).digest("hex");
}

Deno.test("signPaystackBody() matches node:crypto HMAC-SHA512 on a known vector", async () => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  const rfc4231 =
    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
  assert.equal(await signPaystackBody("Jefe", "what do ya want for nothing?"), rfc4231);
  assert.equal(nodeHmac("Jefe", "what do ya want for nothing?"), rfc4231);
  assert.equal(await signPaystackBody(SECRET, BODY), nodeHmac(SECRET, BODY));
});

Deno.test("signPaystackBody() signs bytes and text alike, non-ASCII included", async () => {
  const text = '{"data":{"email":"ade@example.ng","note":"₦5,000 – café"}}';
  const bytes = new TextEncoder().encode(text);
  const fromText = await signPaystackBody(SECRET, text);
  assert.equal(await signPaystackBody(SECRET, bytes), fromText);
  assert.equal(fromText, nodeHmac(SECRET, bytes));
  assert.match(fromText, /^[0-9a-f]{128}$/);
});

Deno.test("signPaystackBody() refuses an empty secret", async () => {
  await assert.rejects(() => signPaystackBody("", BODY), TypeError);
});

Deno.test("verifyPaystackSignature()", async (t) => {
  const good = nodeHmac(SECRET, BODY);

  await t.step("accepts the exact body with the right key", async () => {
    assert.equal(await verifyPaystackSignature(SECRET, BODY, good), true);
    assert.equal(await verifyPaystackSignature(SECRET, new TextEncoder().encode(BODY), good), true);
  });

  await t.step("accepts upper-case hex and surrounding whitespace", async () => {
    assert.equal(await verifyPaystackSignature(SECRET, BODY, ` ${good.toUpperCase()} `), true);
  });

  await t.step("refuses a tampered body", async () => {
    const tampered = BODY.replace("50000", "50001");
    assert.equal(await verifyPaystackSignature(SECRET, tampered, good), false);
    // Re-serialising changes bytes: whitespace alone must break the signature.
    assert.equal(await verifyPaystackSignature(SECRET, JSON.stringify(JSON.parse(BODY), null, 1), good), false);
  });

  await t.step("refuses a signature made with another key", async () => {
    assert.equal(await verifyPaystackSignature(SECRET, BODY, nodeHmac("sk_test_other", BODY)), false);
  });

  await t.step("refuses a truncated, extended, flipped, empty or missing header", async () => {
    assert.equal(await verifyPaystackSignature(SECRET, BODY, good.slice(0, 127)), false);
    assert.equal(await verifyPaystackSignature(SECRET, BODY, good.slice(0, 64)), false);
    assert.equal(await verifyPaystackSignature(SECRET, BODY, good + "0"), false);
    const flipped = good.slice(0, -1) + (good.endsWith("0") ? "1" : "0");
    assert.equal(await verifyPaystackSignature(SECRET, BODY, flipped), false);
    assert.equal(await verifyPaystackSignature(SECRET, BODY, ""), false);
    assert.equal(await verifyPaystackSignature(SECRET, BODY, null), false);
  });

  await t.step("refuses anything when the secret is empty", async () => {
    assert.equal(await verifyPaystackSignature("", BODY, good), false);
  });

  await t.step("refuses a SHA-256 signature (wrong algorithm, wrong length)", async () => {
    const sha256 = createHmac("sha256", SECRET).update(BODY).digest("hex");
    assert.equal(await verifyPaystackSignature(SECRET, BODY, sha256), false);
  });
});
