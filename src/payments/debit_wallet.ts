/**
 * The SMS platform spends credit (`POST /v1/wallet/debits`): one SQL
 * transaction on the locked wallet row, never below what refunds in flight
 * have reserved, idempotent per (user, Idempotency-Key) with the same
 * semantics as payment initialization — a replay answers the first debit, the
 * same key with another request is refused.
 *
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PaymentStore } from "./payment_store.ts";
import type { Debit } from "./refund.ts";
import { requestFingerprint } from "./request_fingerprint.ts";

/** One debit request. */
export interface DebitWalletRequest {
  userId: string;
  amount: number;
  currency: string;
  reason: string;
  idempotencyKey: string;
}

/** Dependencies of {@linkcode createDebitWallet}. */
export interface DebitWalletDeps {
  store: PaymentStore;
  logger: Logger;
  metrics: Metrics;
}

/** Builds the use case. */
export function createDebitWallet(
  { store, logger, metrics }: DebitWalletDeps,
): (request: DebitWalletRequest) => Promise<{ replayed: boolean; debit: Debit }> {
  return async function debitWallet({ userId, amount, currency, reason, idempotencyKey }) {
    const fingerprint = await requestFingerprint("POST", "/v1/wallet/debits", {
      user_id: userId,
      amount,
      currency,
      reason,
    });
    const result = await store.debitWallet({ userId, amount, currency, reason, idempotencyKey, fingerprint });
    if (!result.replayed) {
      metrics.inc("wallet_debits_total", { currency });
      logger.info("wallet debited", { user_id: userId, amount, currency, ledger_reference: result.debit.reference });
    }
    return result;
  };
}
