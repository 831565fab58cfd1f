/**
 * Which entries of a payment's audit trail one call made. The SQL writers
 * append every transition of one transaction with the same `at` (the
 * transaction's timestamp) and actor, so the call's own transitions are the
 * trailing run of entries sharing the last one's `at` and the caller's actor
 * (one for `processing → completed`, two for a late success's `failed →
 * processing → completed`). Used for metrics and log lines only: the trail
 * itself is the record.
 *
 * @module
 */
import type { Payment, StateTransition } from "./payment.ts";

/**
 * The trailing transitions of `payment` made in its last transaction by `actor`, oldest first.
 *
 * @example
 * ```ts
 * transitionsMadeBy(credited, "webhook").map((t) => t.to); // ["processing", "completed"] for a late success
 * ```
 */
export function transitionsMadeBy(payment: Pick<Payment, "state_transitions">, actor: string): StateTransition[] {
  const trail = payment.state_transitions;
  const last = trail.at(-1);
  if (!last || last.actor !== actor) return [];
  let start = trail.length - 1;
  while (start > 0 && trail[start - 1]!.at === last.at && trail[start - 1]!.actor === actor) start--;
  return trail.slice(start);
}
