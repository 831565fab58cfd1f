/**
 * Migrated PGlite databases in a few hundred milliseconds. Starting PGlite
 * on an empty folder runs initdb inside WASM (seconds on a busy machine);
 * starting it on a folder that already holds a cluster does not. So the
 * bootstrap and migrations are applied once, into a template folder named
 * by {@linkcode migrationsDigest} under the git-ignored `.data/`, and each
 * database is a copy of it in a temporary folder, deleted on close.
 *
 * Test processes running in parallel need the same template at once: one
 * builds it (an exclusive lock on `.lock` beside the templates), the others
 * wait and use it. A build is renamed into place only once complete.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { migrate } from "../../src/db/migrate.ts";
import { openPGlite, type SqlClient } from "../../src/db/sql_client.ts";
import { migrationsDigest } from "./migrations_digest.ts";

/** Where the templates live: `<repo>/.data/test-pglite/`. */
const TEMPLATES = new URL("../../.data/test-pglite/", import.meta.url);

async function _exists(path: URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function _copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  const copies: Promise<void>[] = [];
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory) copies.push(_copyDir(source, target));
    else if (entry.isFile) copies.push(Deno.copyFile(source, target));
  }
  await Promise.all(copies);
}

/** Templates kept besides the current one: a test process started before a migration changed may still copy one. */
const KEEP_OLDER_TEMPLATES = 2;

/**
 * Deletes all but the newest older templates (28 MB each) and crashed
 * builds. Called under the build lock, so no build is in progress.
 */
async function _pruneTemplates(current: string): Promise<void> {
  const older: Array<{ name: string; mtime: number }> = [];
  for await (const entry of Deno.readDir(TEMPLATES)) {
    if (!entry.isDirectory || entry.name === current) continue;
    const url = new URL(`${entry.name}/`, TEMPLATES);
    if (entry.name.includes(".build-")) await Deno.remove(url, { recursive: true }).catch(() => {});
    else older.push({ name: entry.name, mtime: (await Deno.stat(url)).mtime?.getTime() ?? 0 });
  }
  older.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of older.slice(KEEP_OLDER_TEMPLATES)) {
    await Deno.remove(new URL(`${name}/`, TEMPLATES), { recursive: true }).catch(() => {});
  }
}

let _template: Promise<URL> | undefined;

/** The template folder of the current migrations, built if missing. Cached per process. */
function _ensureTemplate(): Promise<URL> {
  _template ??= (async () => {
    const digest = await migrationsDigest();
    const template = new URL(`${digest}/`, TEMPLATES);
    if (await _exists(template)) return template;
    await Deno.mkdir(TEMPLATES, { recursive: true });
    // One builder at a time across processes: the others wait here, then find it built.
    using lock = await Deno.open(new URL(".lock", TEMPLATES), { create: true, write: true });
    await lock.lock(true);
    if (await _exists(template)) return template;
    const building = new URL(`${digest}.build-${crypto.randomUUID().slice(0, 8)}/`, TEMPLATES);
    try {
      const db = await openPGlite({ dataDir: fileURLToPath(building) });
      try {
        await migrate(db);
      } finally {
        await db.close();
      }
      // Renamed into place only once complete: a crashed build is never used.
      await Deno.rename(building, template);
    } finally {
      await Deno.remove(building, { recursive: true }).catch(() => {});
    }
    await _pruneTemplates(digest);
    return template;
  })();
  return _template;
}

/** A migrated PGlite of its own; `close` stops it and deletes its folder. */
export interface MigratedPGlite {
  db: SqlClient;
  /** Its data folder (temporary). */
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Opens a PGlite holding the bootstrap and every migration, as a copy of the
 * template (built on first use).
 *
 * @example
 * ```ts
 * const { db, close } = await openMigratedPGlite();
 * try { await db.query("select public.max_fence()"); } finally { await close(); }
 * ```
 */
export async function openMigratedPGlite(): Promise<MigratedPGlite> {
  const template = await _ensureTemplate();
  const dataDir = await Deno.makeTempDir({ prefix: "sms-payments-pglite-" });
  try {
    await _copyDir(fileURLToPath(template), dataDir);
    const db = await openPGlite({ dataDir });
    return {
      db,
      dataDir,
      async close() {
        await db.close();
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      },
    };
  } catch (error) {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw error;
  }
}
