/**
 * Paystack's webhook signature (`x-paystack-signature`): HMAC-SHA512 of the
 * raw body with the secret key, hex. Written here rather than imported so
 * the benchmark signs independently of the code it measures.
 *
 * @module
 */
const _encoder = new TextEncoder();
const _keys = new Map<string, Promise<CryptoKey>>();

function _key(secret: string): Promise<CryptoKey> {
  let key = _keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", _encoder.encode(secret), { name: "HMAC", hash: "SHA-512" }, false, [
      "sign",
    ]);
    _keys.set(secret, key);
  }
  return key;
}

/** The hex HMAC-SHA512 of `body` under `secret`. */
export async function paystackSignature(secret: string, body: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await _key(secret), _encoder.encode(body)));
  let hex = "";
  for (const b of mac) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** Whether `header` is the signature of `body` (what the naive service checks). */
export async function paystackSignatureMatches(secret: string, body: string, header: string | null): Promise<boolean> {
  return header !== null && header.trim().toLowerCase() === await paystackSignature(secret, body);
}
