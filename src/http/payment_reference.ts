/**
 * A payment reference in a URL path: Paystack's alphabet and our length
 * bound. Anything else cannot name a payment of ours, so it is a 404, not a
 * validation error that would tell a prober what references look like.
 *
 * @module
 */
import { AppError } from "../errors.ts";
import { REFERENCE_PATTERN } from "../payments/provider_reference.ts";

/**
 * The reference, or a 404 `payment_not_found`.
 *
 * @throws {AppError} `payment_not_found`
 */
export function paymentReference(text: string): string {
  if (!REFERENCE_PATTERN.test(text)) {
    throw new AppError("payment_not_found", { detail: `No payment with reference ${text}` });
  }
  return text;
}
