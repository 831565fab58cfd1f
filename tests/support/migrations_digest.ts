/**
 * A short digest of the bootstrap and every migration: the name of the
 * migrated templates the tests clone (a Postgres template database, a PGlite
 * data folder), so a changed migration builds new ones.
 *
 * @module
 */
import { readBootstrap, readMigrations } from "../../src/db/migrate.ts";

let _digest: Promise<string> | undefined;

/** 16 hex digits of SHA-256 over the bootstrap and the migrations, in order. Cached per process. */
export function migrationsDigest(): Promise<string> {
  _digest ??= (async () => {
    const parts = [await readBootstrap(), ...(await readMigrations()).map((m) => m.version + m.sql)];
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n--\n")));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
  })();
  return _digest;
}
