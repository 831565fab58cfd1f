/**
 * Start-up phases measured inside a fresh process (one phase per process, so
 * nothing is cached in V8 or the module map), printed as one JSON line:
 *
 * - `import <graph>`: `await import()` of modules and their static graphs —
 *   the module-graph cost of a cold start: `edge` (the Edge Function's
 *   graph: `src/runtime/build_cloud_runtime.ts` with the config and the
 *   logger), `main` (`main.ts`'s static graph), `local` (what local and
 *   embedded modes import on top of it: the SQL client with the Postgres
 *   driver and PGlite, the migration runner, the RPC gateway, the Upstash
 *   proxy with ioredis, the sandbox, the docs page's assets), `pglite`
 *   (`@electric-sql/pglite` alone);
 * - `pglite <dataDir>`: PGlite's own start (`openPGlite`), then bringing the
 *   schema up to date (`migrate`: every migration on an empty folder, a
 *   check of each on a migrated one) — embedded mode's start, apart from the
 *   rest of the service;
 * - `migrate <DATABASE_URL>`: the migration check local mode runs at every
 *   start, on an up-to-date Postgres database.
 *
 * @module
 */
const [phase, target] = Deno.args;
const t0 = performance.now();
if (phase === "import") {
  const graphs: Record<string, string[]> = {
    edge: ["../../src/config.ts", "../../src/observability/logger.ts", "../../src/runtime/build_cloud_runtime.ts"],
    main: ["../../main.ts"],
    local: [
      "../../src/db/sql_client.ts",
      "../../src/db/migrate.ts",
      "../../src/local/rpc_gateway.ts",
      "../../src/local/upstash_proxy.ts",
      "../../src/providers/sandbox/sandbox_paystack.ts",
      "../../src/local/swagger_ui_assets.ts",
      "../../src/auth/dev_token.ts",
    ],
    pglite: ["@electric-sql/pglite"],
  };
  const modules = graphs[target ?? ""];
  if (!modules) throw new RangeError(`import: one of ${Object.keys(graphs).join(", ")}`);
  // "local" is timed on top of main.ts's graph, as `main.ts serve` loads it.
  if (target === "local") await import("../../main.ts");
  const t1 = performance.now();
  await Promise.all(modules.map((m) => import(m)));
  console.log(JSON.stringify({ importMs: performance.now() - t1, sinceStartMs: performance.now() - t0 }));
} else if (phase === "pglite") {
  const [{ openPGlite }, { migrate }] = await Promise.all([
    import("../../src/db/sql_client.ts"),
    import("../../src/db/migrate.ts"),
  ]);
  const t1 = performance.now();
  const db = await openPGlite({ dataDir: target! });
  const t2 = performance.now();
  const { applied } = await migrate(db);
  const t3 = performance.now();
  await db.close();
  console.log(JSON.stringify({ importMs: t1 - t0, openMs: t2 - t1, migrateMs: t3 - t2, applied: applied.length }));
} else if (phase === "migrate") {
  const [{ connectPostgres }, { migrate }] = await Promise.all([
    import("../../src/db/sql_client.ts"),
    import("../../src/db/migrate.ts"),
  ]);
  const db = connectPostgres(target!, { max: 1 });
  const t1 = performance.now();
  const { applied, skipped } = await migrate(db);
  const t2 = performance.now();
  await db.close();
  console.log(JSON.stringify({ migrateMs: t2 - t1, applied: applied.length, skipped: skipped.length }));
} else {
  console.error("usage: startup_probe.ts import edge|main|local|pglite | pglite <dataDir> | migrate <DATABASE_URL>");
  Deno.exit(2);
}
