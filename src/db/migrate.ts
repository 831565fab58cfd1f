/**
 * Applies the plain-Postgres bootstrap and `supabase/migrations/*.sql` to a
 * database, recording each applied file in
 * `supabase_migrations.schema_migrations` (the table the Supabase CLI keeps),
 * so running it twice applies nothing the second time.
 *
 * @module
 */
import type { SqlClient } from "./sql_client.ts";

const SUPABASE_DIR = new URL("../../supabase/", import.meta.url);

/** One migration file. */
export interface Migration {
  /** The timestamp prefix, e.g. `20261127000000`. */
  version: string;
  /** The rest of the file name without `.sql`. */
  name: string;
  /** The SQL text. */
  sql: string;
}

/** Options of {@linkcode migrate}. */
export interface MigrateOptions {
  /**
   * Apply `supabase/local/bootstrap.sql` first (roles, `auth` schema). Only for
   * plain Postgres and PGlite, never for a real Supabase project.
   * @default true
   */
  bootstrap?: boolean;
  /** Where the migrations come from. @default the repository's supabase/migrations */
  migrations?: Migration[];
}

/** What {@linkcode migrate} did. */
export interface MigrateResult {
  /** Versions applied by this call, in order. */
  applied: string[];
  /** Versions that were already there. */
  skipped: string[];
}

/** Reads the repository's migrations, sorted by version. */
export async function readMigrations(dir: URL = new URL("migrations/", SUPABASE_DIR)): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d{14})_(.+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    out.push({ version: match[1]!, name: match[2]!, sql: await Deno.readTextFile(new URL(entry.name, dir)) });
  }
  return out.sort((a, b) => a.version.localeCompare(b.version));
}

/** Reads the plain-Postgres bootstrap script. */
export function readBootstrap(): Promise<string> {
  return Deno.readTextFile(new URL("local/bootstrap.sql", SUPABASE_DIR));
}

/**
 * Brings a database up to date. Safe to run twice and from two processes at
 * once (a transaction-scoped advisory lock serialises the runs).
 *
 * @example
 * ```ts
 * const db = connectPostgres(url);
 * const { applied } = await migrate(db);
 * ```
 */
export async function migrate(
  db: SqlClient,
  { bootstrap = true, migrations }: MigrateOptions = {},
): Promise<MigrateResult> {
  const files = migrations ?? await readMigrations();
  if (bootstrap) {
    const script = await readBootstrap();
    await db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock(hashtext('sms-payments:bootstrap'))");
      await tx.exec(script);
    });
  }
  await db.exec(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key,
      statements text[],
      name text
    );
  `);
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const done = await db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock(hashtext('sms-payments:migrate'))");
      const seen = await tx.query("select 1 from supabase_migrations.schema_migrations where version = $1", [
        file.version,
      ]);
      if (seen.length > 0) return false;
      await tx.exec(file.sql);
      await tx.query(
        "insert into supabase_migrations.schema_migrations (version, statements, name) values ($1, $2, $3)",
        [file.version, [file.sql], file.name],
      );
      return true;
    });
    (done ? applied : skipped).push(file.version);
  }
  return { applied, skipped };
}
