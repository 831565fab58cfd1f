/**
 * The database's own limit: the SQL a webhook credit runs, called directly
 * through a Postgres driver (npm:postgres, prepared statements, one
 * connection per lane) — no HTTP, no gateway, no lock, no provider. The same
 * two functions as the service, with the same arguments (the event payload,
 * the provider's transaction data, a fence), each in its own transaction:
 *
 * 1. `record_webhook_event(…, p_mark_processing => true, p_fence)` — the
 *    durable dedupe record, pending → processing;
 * 2. `credit_user(…, p_webhook_event_id)` — ledger entry, balance, completed,
 *    event marked processed.
 *
 * @module
 */
import postgres from "postgres";

/** One credit's inputs, as the webhook path has them. */
export interface DirectCredit {
  reference: string;
  amount: number;
  currency: string;
  /** The raw event body (stored as the event's payload). */
  webhookBody: string;
}

/** A driver pool on the benchmark database. */
export interface DirectSql {
  /** The pool (tagged-template queries are prepared once per connection). */
  sql: postgres.Sql;
  /** Records the event and credits, as the webhook path does; resolves with credit_user's outcome. */
  credit(input: DirectCredit): Promise<string>;
  close(): Promise<void>;
}

/** Opens a pool of `max` connections on `url`. */
export function createDirectSql(url: string, max: number): DirectSql {
  const sql = postgres(url, { max, onnotice: () => {}, connection: { application_name: "bench-direct" } });
  let fence = 1_000_000;
  return {
    sql,
    async credit({ reference, amount, currency, webhookBody }) {
      const event = JSON.parse(webhookBody) as { event: string; data: { id?: unknown } };
      const providerPayload = JSON.stringify(event.data);
      const myFence = ++fence;
      const [recorded] = await sql<{ r: { event_id: string; processed: boolean } }[]>`
        select public.record_webhook_event('paystack', ${`${event.event}:${event.data.id ?? reference}`},
          ${event.event}, ${reference}, ${webhookBody}::jsonb, true, ${myFence}::int8) as r`;
      if (!recorded || recorded.r.processed) return "duplicate";
      const [credited] = await sql<{ r: { outcome: string } }[]>`
        select public.credit_user(${reference}, ${amount}::int8, ${currency}, ${providerPayload}::jsonb,
          ${myFence}::int8, 'webhook', 'provider confirmed success', ${recorded.r.event_id}::uuid) as r`;
      return credited!.r.outcome;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
