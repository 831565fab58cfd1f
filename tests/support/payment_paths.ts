/**
 * Legal ways to put a payment into a given state, derived from the
 * TypeScript transition table (`nextStates`) instead of being written out per
 * suite, so the SQL tests and the mirror test walk the same paths and follow
 * the table when it changes.
 *
 * @module
 */
import { nextStates, PAYMENT_STATES, type PaymentState } from "../../src/payments/payment_state.ts";

/**
 * The shortest legal path from `pending` (where every payment starts) to
 * each state: the states to move through, in order, `[]` for pending itself.
 * Breadth-first over {@linkcode nextStates}.
 *
 * @throws {Error} When a state cannot be reached from pending (the table lost a transition).
 *
 * @example
 * ```ts
 * pathsFromPending().refunded; // ["processing", "completed", "refunded"]
 * ```
 */
export function pathsFromPending(): Record<PaymentState, PaymentState[]> {
  const paths = new Map<PaymentState, PaymentState[]>([["pending", []]]);
  const queue: PaymentState[] = ["pending"];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    for (const next of nextStates(state)) {
      if (paths.has(next)) continue;
      paths.set(next, [...paths.get(state)!, next]);
      queue.push(next);
    }
  }
  const unreachable = PAYMENT_STATES.filter((s) => !paths.has(s));
  if (unreachable.length > 0) throw new Error(`Cannot reach ${unreachable.join(", ")} from pending`);
  return Object.fromEntries(paths) as Record<PaymentState, PaymentState[]>;
}
