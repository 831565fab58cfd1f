/**
 * Paystack webhook signatures: `x-paystack-signature` is the hex HMAC-SHA512
 * of the raw request body keyed with the secret key (Paystack has no separate
 * webhook secret). Always sign and check the exact bytes received: parsing
 * and re-serialising JSON changes them.
 *
 * @module
 */

const _encoder = new TextEncoder();

function _bytes(body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return _encoder.encode(body);
  // Copy so WebCrypto gets a plain ArrayBuffer-backed view whatever the caller passed.
  return new Uint8Array(body);
}

async function _hmacSha512(secret: string, body: string | Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    _encoder.encode(secret),
    { name: "HMAC", hash: "SHA-512" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, _bytes(body)));
}

function _hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Signs a webhook body as Paystack does.
 *
 * @param secret The Paystack secret key.
 * @param rawBody The exact body that will be sent.
 * @returns The lower-case hex HMAC-SHA512 (128 characters).
 * @throws {TypeError} when `secret` is empty (nothing would be authentic)
 *
 * @example
 * ```ts
 * const body = JSON.stringify({ event: "charge.success", data: { reference: "pay-1" } });
 * const signature = await signPaystackBody("sk_test_sandbox", body);
 * ```
 */
export async function signPaystackBody(secret: string, rawBody: string | Uint8Array): Promise<string> {
  if (secret.length === 0) throw new TypeError("Cannot sign webhook body: secret is empty");
  return _hex(await _hmacSha512(secret, rawBody));
}

/**
 * Checks an `x-paystack-signature` header against the raw body.
 *
 * The comparison runs over every character whatever the content, so the time
 * taken does not reveal how much of a forged signature was right. A header of
 * the wrong length, a missing header or an empty secret is simply `false`.
 *
 * @param secret The Paystack secret key.
 * @param rawBody The body exactly as received, before any JSON parsing.
 * @param header The `x-paystack-signature` header value, or `null` when absent.
 * @returns Whether the body is authentic.
 *
 * @example
 * ```ts
 * const raw = await request.text();
 * const ok = await verifyPaystackSignature(secret, raw, request.headers.get("x-paystack-signature"));
 * ```
 */
export async function verifyPaystackSignature(
  secret: string,
  rawBody: string | Uint8Array,
  header: string | null,
): Promise<boolean> {
  if (header === null || secret.length === 0) return false;
  const expected = _hex(await _hmacSha512(secret, rawBody));
  // Hex is case-insensitive; the length is public (always 128), so checking it first leaks nothing.
  const given = header.trim().toLowerCase();
  if (given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}
