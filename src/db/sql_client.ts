/**
 * One small SQL interface over the two engines the local stack runs on:
 * real Postgres (through the `postgres` driver, pooled) and PGlite (Postgres
 * compiled to WASM, one connection). The local stand-ins (RPC gateway,
 * sandbox provider, migrations, test support) use it; production code talks
 * to Supabase through supabase-js and never sees it.
 *
 * Both engines are configured to return the same JS shapes: int8/numeric as
 * strings (money must never pass through a float), json/jsonb parsed,
 * timestamps as `Date`.
 *
 * @module
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";

/** A row as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/** Something that runs SQL: a pool, a connection or an open transaction. */
export interface SqlSession {
  /**
   * Runs one statement with positional parameters (`$1`, `$2`, ...).
   * @throws {SqlError} when the database reports an error
   */
  query<T extends SqlRow = SqlRow>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (no parameters, simple protocol). */
  exec(script: string): Promise<void>;
}

/** Options of {@linkcode SqlClient.transaction}. */
export interface TransactionOptions {
  /** Start the transaction READ ONLY. @default false */
  readOnly?: boolean;
}

/** A database handle of the local stack. */
export interface SqlClient extends SqlSession {
  /** Which engine is behind it. */
  readonly engine: "postgres" | "pglite";
  /**
   * Runs `fn` inside one transaction, committed when `fn` resolves and rolled
   * back when it throws.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Closes the pool or the engine. */
  close(): Promise<void>;
}

/** A database error normalised across engines: SQLSTATE and Postgres' fields. */
export class SqlError extends Error {
  /** The SQLSTATE, e.g. `23505`. */
  readonly code: string;
  /** Postgres' DETAIL, if any. */
  readonly detail: string | null;
  /** Postgres' HINT, if any. */
  readonly hint: string | null;

  constructor(code: string, message: string, detail: string | null, hint: string | null) {
    super(message);
    this.name = "SqlError";
    this.code = code;
    this.detail = detail;
    this.hint = hint;
  }
}

/**
 * Turns a driver error into a {@linkcode SqlError}; anything without a
 * SQLSTATE (a network failure, say) is returned unchanged.
 */
export function toSqlError(error: unknown): unknown {
  if (error instanceof SqlError) return error;
  if (error && typeof error === "object" && "code" in error) {
    const e = error as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown; severity?: unknown };
    // A server error carries a severity (postgres.js PostgresError, PGlite's
    // DatabaseError); a socket's errno (EPIPE is five capitals too) does not,
    // and stays a network failure.
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === "string") {
      return new SqlError(
        e.code,
        String(e.message ?? ""),
        typeof e.detail === "string" ? e.detail : null,
        typeof e.hint === "string" ? e.hint : null,
      );
    }
  }
  return error;
}

async function _translate<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toSqlError(error);
  }
}

/** Options of {@linkcode connectPostgres}. */
export interface PostgresOptions {
  /** Pool size. @default 10 */
  max?: number;
  /** Application name shown in pg_stat_activity. @default "sms-payments" */
  applicationName?: string;
}

let _hangupGuard = false;

/**
 * Connection-level failures: the driver's own (`CONNECTION_CLOSED`, …) and
 * the server's goodbyes (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
 * cannot_connect_now; class 08 is matched by prefix).
 */
const _HANGUP_CODES: ReadonlySet<string> = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
]);

/**
 * When Postgres ends a connection (pg_terminate_backend, a restart, a
 * failover) while the driver still has a write queued, the driver's queued
 * `setImmediate` write hits the closed socket of Deno's node:net compat and
 * rejects with "This socket has been ended by the other party", and an idle
 * connection gets the server's "terminating connection" notice as an error:
 * promises nobody awaits, which would end the whole process. A query on that
 * connection fails on its own (the caller sees a connection error, 503), so
 * these rejections are dropped; every other unhandled rejection still ends
 * the process as it should. Installed once, by the first pool.
 */
function _survivePostgresHangups(): void {
  if (_hangupGuard) return;
  _hangupGuard = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    const reason = event.reason as { message?: unknown; code?: unknown } | null;
    const message = typeof reason?.message === "string" ? reason.message : "";
    const code = typeof reason?.code === "string" ? reason.code : "";
    if (
      /socket has been ended by the other party/i.test(message) || _HANGUP_CODES.has(code) || code.startsWith("08")
    ) {
      event.preventDefault();
    }
  });
  // The same race thrown instead of rejected: the driver's queued write runs
  // after the socket was already dropped (`socket` is null in its
  // connection.js nextWrite). Only that exception, from the driver's own
  // file, is dropped.
  globalThis.addEventListener("error", (event) => {
    const error = event.error;
    if (
      error instanceof TypeError && /reading 'write'/.test(error.message) &&
      /[/\\]postgres[/\\][^\n]*connection\.js/.test(error.stack ?? "")
    ) {
      event.preventDefault();
    }
  });
}

/**
 * Opens a connection pool to a real Postgres.
 *
 * @example
 * ```ts
 * const db = connectPostgres("postgres://root@127.0.0.1:5432/postgres");
 * const [row] = await db.query("select 1 as one");
 * await db.close();
 * ```
 */
export function connectPostgres(
  url: string,
  { max = 10, applicationName = "sms-payments" }: PostgresOptions = {},
): SqlClient {
  _survivePostgresHangups();
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: applicationName },
    // Keep int8 as text, like PGlite below: money never becomes a float.
    types: { bigint: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => v } },
  });
  const session = (run: postgres.Sql | postgres.TransactionSql): SqlSession => ({
    query: <T extends SqlRow>(text: string, params: unknown[] = []) =>
      _translate(async () =>
        [...await run.unsafe(text, params as postgres.ParameterOrJSON<never>[])] as unknown as T[]
      ),
    exec: (script: string) => _translate(async () => void await run.unsafe(script).simple()),
  });
  return {
    engine: "postgres",
    ...session(sql),
    transaction: <T>(fn: (tx: SqlSession) => Promise<T>, { readOnly = false }: TransactionOptions = {}) =>
      _translate(() => sql.begin(readOnly ? "read only" : "read write", (tx) => fn(session(tx))) as Promise<T>),
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Options of {@linkcode openPGlite}. */
export interface PGliteOptions {
  /** Folder to keep the data in; in memory when absent. */
  dataDir?: string;
}

/**
 * Opens PGlite (Postgres in WASM) in memory or on disk. It has a single
 * connection: statements and transactions from concurrent callers queue.
 */
export async function openPGlite({ dataDir }: PGliteOptions = {}): Promise<SqlClient> {
  // PGlite creates the data folder itself but not its parents.
  if (dataDir) await Deno.mkdir(dataDir, { recursive: true });
  const pg = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    // int8 and numeric as text, the same as the postgres driver above.
    parsers: { 20: (v: string) => v, 1700: (v: string) => v },
  });
  const session = (run: Pick<PGlite, "query" | "exec">): SqlSession => ({
    query: <T extends SqlRow>(text: string, params: unknown[] = []) =>
      _translate(async () => (await run.query<T>(text, params)).rows),
    exec: (script: string) => _translate(async () => void await run.exec(script)),
  });
  return {
    engine: "pglite",
    ...session(pg),
    transaction: <T>(fn: (tx: SqlSession) => Promise<T>, { readOnly = false }: TransactionOptions = {}) =>
      _translate(() =>
        pg.transaction(async (tx) => {
          if (readOnly) await tx.query("set transaction read only");
          return await fn(session(tx));
        })
      ),
    close: () => pg.close(),
  };
}
