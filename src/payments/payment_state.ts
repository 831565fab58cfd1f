/**
 * The payment state machine, mirrored from the SQL guard in
 * `supabase/migrations/*_payment_state_machine.sql`. The database is the
 * authority (it refuses illegal transitions with SQLSTATE PM001); this copy
 * lets the TypeScript layer reason about states without a round trip.
 *
 * @module
 */

/** Every payment state. */
export const PAYMENT_STATES = ["pending", "processing", "completed", "failed", "refunded"] as const;

/** A payment state. */
export type PaymentState = typeof PAYMENT_STATES[number];

/**
 * The states a payment may move to from `state`.
 *
 * pending → processing (someone started confirming it with the provider),
 * pending → failed (the provider refused it at initialization, or it was
 * abandoned), processing → completed | failed, completed → refunded, and
 * failed → processing: a late success (the provider confirmed a payment we
 * had failed; paid means credited). The SQL guard refuses that last move for
 * a payment failed for an amount/currency mismatch, which this table cannot
 * see (it depends on the failure reason, not the state).
 */
export function nextStates(state: PaymentState): readonly PaymentState[] {
  switch (state) {
    case "pending":
      return ["processing", "failed"];
    case "processing":
      return ["completed", "failed"];
    case "completed":
      return ["refunded"];
    case "failed":
      return ["processing"];
    case "refunded":
      return [];
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

/** Whether `from → to` is a legal transition. */
export function canTransition(from: PaymentState, to: PaymentState): boolean {
  return nextStates(from).includes(to);
}
