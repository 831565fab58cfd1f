/**
 * Cloud mode loads only cloud code: `main.ts` carries no local stand-in in
 * the module graph it loads at start-up. The graphs come from
 * `deno info --json`.
 */
import assert from "node:assert/strict";
import { loadModuleGraph, type ModuleGraph, npmPackagesOf, reachableModules } from "./module_graph.ts";

const ROOT = new URL("../../", import.meta.url);
const MAIN = new URL("main.ts", ROOT);

/** Local modules that only dev and test modes run. */
const LOCAL_ONLY_PATHS = [
  "src/local/", // RPC gateway, Upstash proxy
  "src/providers/sandbox/", // sandbox Paystack
  "src/db/", // Postgres / PGlite client, migrations
  "src/lock/memory_lock_service.ts",
  "src/auth/dev_token.ts",
];
/** npm packages only the stand-ins use. */
const LOCAL_ONLY_PACKAGES = ["postgres", "@electric-sql/pglite", "ioredis"];

/** The local-only modules and packages among what `graph` loads. */
function localOnly(graph: ModuleGraph, { dynamic }: { dynamic: boolean }): string[] {
  const modules = reachableModules(graph, { dynamic });
  const paths = modules
    .filter((m) => m.specifier.startsWith(ROOT.href))
    .map((m) => m.specifier.slice(ROOT.href.length))
    .filter((path) => LOCAL_ONLY_PATHS.some((prefix) => path.startsWith(prefix)));
  const packages = npmPackagesOf(graph, modules)
    .map((id) => id.replace(/@[^@]+$/, ""))
    .filter((name) => LOCAL_ONLY_PACKAGES.includes(name))
    .map((name) => `npm:${name}`);
  return [...paths, ...packages].sort();
}

Deno.test("cloud mode loads only cloud code", async (t) => {
  const main = await loadModuleGraph(MAIN);

  await t.step("the list is live: main.ts reaches every stand-in through await import()", () => {
    const dynamic = localOnly(main, { dynamic: true });
    for (const prefix of LOCAL_ONLY_PATHS) assert.ok(dynamic.some((p) => p.startsWith(prefix)), prefix);
    for (const name of LOCAL_ONLY_PACKAGES) assert.ok(dynamic.includes(`npm:${name}`), name);
  });

  await t.step("main.ts's static graph holds no stand-in", () => {
    assert.deepEqual(localOnly(main, { dynamic: false }), []);
  });
});
