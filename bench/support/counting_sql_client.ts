/**
 * A {@linkcode SqlClient} that counts what goes to Postgres: statements, and
 * the network round trips npm:postgres spends on them. Its `unsafe()` queries
 * are never prepared, and a parameterized query that is not prepared is
 * described first (Parse/Describe/Flush, wait for the parameter types, then
 * Bind/Execute): two round trips. A statement without parameters goes as a
 * simple query: one. `transaction()` adds BEGIN and COMMIT (one each).
 *
 * @module
 */
import type { SqlClient, SqlSession } from "../../src/db/sql_client.ts";

/** Counters of a {@linkcode countingSqlClient}. */
export interface SqlCounters {
  statements: number;
  roundTrips: number;
  transactions: number;
}

/** Wraps `inner`; `counters` grows as it is used. */
export function countingSqlClient(inner: SqlClient, counters: SqlCounters): SqlClient {
  const count = (params: unknown[] | undefined) => {
    counters.statements++;
    counters.roundTrips += params && params.length > 0 ? 2 : 1;
  };
  const wrap = (session: SqlSession): SqlSession => ({
    query: (text, params) => {
      count(params);
      return session.query(text, params);
    },
    exec: (script) => {
      count(undefined);
      return session.exec(script);
    },
  });
  return {
    engine: inner.engine,
    ...wrap(inner),
    transaction: (fn, options) => {
      counters.transactions++;
      counters.statements += 2;
      counters.roundTrips += 2;
      return inner.transaction((tx) => fn(wrap(tx)), options);
    },
    close: () => inner.close(),
  };
}
