/**
 * What a client sees of a payment: its own fields, never internal ones
 * (provider payload, fencing token, ids of other tables).
 *
 * @module
 */
import type { Payment } from "../payments/payment_store.ts";

/** The public JSON of a payment. */
export function paymentView(p: Payment): Record<string, unknown> {
  return {
    reference: p.reference,
    state: p.state,
    amount: p.amount,
    currency: p.currency,
    provider: p.provider,
    email: p.email,
    metadata: p.metadata,
    authorization_url: p.authorization_url,
    refunded_amount: p.refunded_amount,
    failure_reason: p.failure_reason,
    lock_version: p.lock_version,
    state_transitions: p.state_transitions,
    processing_started_at: p.processing_started_at,
    processing_completed_at: p.processing_completed_at,
    created_at: p.created_at,
    updated_at: p.updated_at,
  };
}
