/**
 * Isolated databases for tests. Each suite gets its own database on the
 * Postgres at `DATABASE_URL` (default `postgres://root@127.0.0.1:5432/postgres`),
 * cloned from a template that holds the bootstrap and every migration. The
 * template's name carries a hash of the SQL, so a changed migration builds a
 * new one; building is serialised across test processes by an advisory lock.
 *
 * When Postgres is unreachable, suites fall back to PGlite (embedded mode)
 * with the same bootstrap and migrations (a copy of a migrated template,
 * see pglite_template.ts), unless
 * `REQUIRE_SERVICES=1`, which turns that into a failure. PGlite has one
 * connection: a suite that needs several sessions checks
 * {@linkcode TestDatabase.engine} (or skips with `ignoreWithout`).
 *
 * @module
 */
import { connectPostgres, openPGlite, type PostgresOptions, type SqlClient } from "../../src/db/sql_client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { migrationsDigest } from "./migrations_digest.ts";
import { openMigratedPGlite } from "./pglite_template.ts";
import { adminDatabaseUrl, postgresReachable, servicesRequired } from "./services.ts";

/** A database created for one suite. */
export interface TestDatabase {
  /** Which engine holds it: a real Postgres, or PGlite in the embedded fallback. */
  engine: SqlClient["engine"];
  /** Connection URL (empty for PGlite). */
  url: string;
  /** A pooled client on it (a PGlite instance in embedded fallback). */
  db: SqlClient;
  /**
   * Opens another connection pool on this database, for tests that race
   * sessions; the caller closes it.
   * @throws {Error} On PGlite, which has one connection.
   */
  connect(options?: PostgresOptions): SqlClient;
  /** Drops the database and closes the client. */
  close(): Promise<void>;
}

/** Options of {@linkcode createTestDatabase}. */
export interface TestDatabaseOptions {
  /** Apply bootstrap + migrations. @default true */
  migrated?: boolean;
  /** Pool size. @default 10 */
  max?: number;
}

function _withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function _templateName(): Promise<string> {
  return `test_tmpl_${await migrationsDigest()}`;
}

async function _ensureTemplate(admin: SqlClient): Promise<string> {
  const name = await _templateName();
  await admin.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock(hashtext('sms-payments:test-template'))");
    const exists = await tx.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.length > 0) return;
    const building = `${name}_b${crypto.randomUUID().slice(0, 8)}`;
    await admin.exec(`create database "${building}"`);
    const db = connectPostgres(_withDatabase(adminDatabaseUrl(), building), { max: 1 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    await admin.exec(`alter database "${building}" rename to "${name}"`);
    await admin.exec(`alter database "${name}" with is_template true`);
  });
  return name;
}

/**
 * Creates an isolated database for one suite.
 *
 * @example
 * ```ts
 * const t = await createTestDatabase();
 * try { await t.db.query("select 1"); } finally { await t.close(); }
 * ```
 */
export async function createTestDatabase(
  { migrated = true, max = 10 }: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  if (!(await postgresReachable())) {
    if (servicesRequired()) {
      throw new Error(`Postgres is required (REQUIRE_SERVICES=1) but ${adminDatabaseUrl()} does not answer`);
    }
    const { db, close } = migrated ? await openMigratedPGlite() : { db: await openPGlite(), close: undefined };
    return {
      engine: "pglite",
      url: "",
      db,
      connect() {
        throw new Error("Cannot open another session on PGlite: it has one connection");
      },
      close: close ?? (() => db.close()),
    };
  }
  // Two connections: _ensureTemplate holds one in the advisory-lock transaction
  // while CREATE DATABASE (which cannot run inside a transaction) needs another.
  const admin = connectPostgres(adminDatabaseUrl(), { max: 2 });
  const name = `test_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  try {
    if (migrated) {
      const template = await _ensureTemplate(admin);
      await admin.exec(`create database "${name}" template "${template}"`);
    } else {
      await admin.exec(`create database "${name}"`);
    }
  } finally {
    await admin.close();
  }
  const url = _withDatabase(adminDatabaseUrl(), name);
  const db = connectPostgres(url, { max });
  return {
    engine: "postgres",
    url,
    db,
    connect: (options) => connectPostgres(url, options),
    async close() {
      await db.close();
      const drop = connectPostgres(adminDatabaseUrl(), { max: 1 });
      try {
        await drop.exec(`drop database if exists "${name}" with (force)`);
      } finally {
        await drop.close();
      }
    },
  };
}
