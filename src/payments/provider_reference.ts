/**
 * Provider references and the payments they belong to. A payment's first
 * provider transaction uses our reference; when a crash lost its checkout,
 * initialization opens another as `<reference>.r<n>` (`open_provider_attempt`
 * in SQL, which also resolves them: `_payment_by_provider_reference`). Our
 * references (`pay-<hex>`) never contain `.r`.
 *
 * @module
 */

/**
 * What a reference may look like, ours or a provider's: Paystack's alphabet
 * (letters, digits, `-`, `.`, `=`) and a length bound of 100.
 */
export const REFERENCE_PATTERN = /^[A-Za-z0-9.=-]{1,100}$/;

/**
 * The payment reference a provider reference belongs to (the SQL resolver
 * checks the attempt number; this only names the lock to take).
 *
 * @example
 * ```ts
 * paymentReferenceOf("pay-abc.r2"); // "pay-abc"
 * ```
 */
export function paymentReferenceOf(providerReference: string): string {
  const at = providerReference.indexOf(".r");
  return at === -1 ? providerReference : providerReference.slice(0, at);
}
