/**
 * Re-running a whole request transaction after a serialization failure or a
 * deadlock.
 *
 * PostgREST v14 re-runs the transaction on 40001 and 40P01 (hasql's
 * retrying transaction); v16 answers 500 instead. The gateway follows v14,
 * the line Supabase runs, but bounded: after the last attempt the error is
 * answered with its SQLSTATE (class 40 → 500). Retrying is safe because the
 * failed attempt was rolled back and a request transaction has no effect
 * outside the database (sequences excepted, as in Postgres itself).
 *
 * @module
 */
import { SqlError } from "../../db/sql_client.ts";

/** SQLSTATEs after which the transaction is re-run: serialization_failure, deadlock_detected. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(["40001", "40P01"]);

/** Options of {@linkcode withTransactionRetry}. */
export interface RetryOptions {
  /** Attempts in total, the first included. @default 3 */
  maxAttempts?: number;
  /**
   * Wait before attempt `attempt` (2, 3, …). The default waits a few
   * milliseconds with jitter, so two transactions that deadlocked each other
   * do not collide again in lockstep.
   */
  backoff?: (attempt: number) => Promise<void>;
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or
 * has been tried `maxAttempts` times.
 *
 * @param attempt one complete transaction
 * @param options attempts and backoff
 * @returns what the successful attempt returned
 * @throws the last error
 */
export async function withTransactionRetry<T>(
  attempt: () => Promise<T>,
  { maxAttempts = 3, backoff = _jitteredBackoff }: RetryOptions = {},
): Promise<T> {
  for (let n = 1;; n++) {
    try {
      return await attempt();
    } catch (error) {
      const retryable = error instanceof SqlError && RETRYABLE_SQLSTATES.has(error.code);
      if (!retryable || n >= maxAttempts) throw error;
      await backoff(n + 1);
    }
  }
}

function _jitteredBackoff(attempt: number): Promise<void> {
  const ms = 5 * (attempt - 1) + Math.random() * 20;
  return new Promise((resolve) => setTimeout(resolve, ms));
}
