/**
 * The fields every log line of one request carries (request id, user id),
 * kept in an `AsyncLocalStorage` so that the use cases, built once with the
 * base logger, still write them: a line about a credit can be found from the
 * request that caused it, and the other way round.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with `fields` as the log context of everything it awaits.
 * The object is the context itself: {@linkcode addLogContext} adds to it.
 *
 * @example
 * ```ts
 * await runWithLogContext({ request_id: "r-1" }, () => next());
 * ```
 */
export function runWithLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return storage.run(fields, fn);
}

/** Adds fields (e.g. `user_id` once the caller is known) to the current context; outside one, does nothing. */
export function addLogContext(fields: Record<string, unknown>): void {
  const current = storage.getStore();
  if (current) Object.assign(current, fields);
}

/** The current context's fields (empty outside a request). */
export function currentLogContext(): Record<string, unknown> {
  return storage.getStore() ?? {};
}
