/**
 * Cloud mode loads only cloud code: neither the Edge Function nor `main.ts`
 * carries a local stand-in in the module graph it loads at start-up
 * (README "Cold start"). The graphs come from `deno info --json`.
 */
import assert from "node:assert/strict";
import { loadModuleGraph, type ModuleGraph, npmPackagesOf, reachableModules } from "./module_graph.ts";

const ROOT = new URL("../../", import.meta.url);
const EDGE_ENTRY = new URL("supabase/functions/payments/index.ts", ROOT);
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
const LOCAL_ONLY_PACKAGES = ["postgres", "@electric-sql/pglite", "ioredis", "swagger-ui-dist"];

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

/**
 * The files `supabase functions deploy` uploads: the CLI walks relative
 * imports from the entry with a regular expression (supabase/cli,
 * pkg/function/deno.go `WalkImportPaths`), `import()` and type-only imports
 * included. Reproduced here so a comment or a dynamic import that would
 * drag a stand-in into the upload fails a test.
 */
async function uploadWalk(entry: URL): Promise<string[]> {
  const pattern = /(?:import|export)\s+(?:{[^{}]+}|.*?)\s*(?:from)?\s*['"](.*?)['"]|import\(\s*['"](.*?)['"]\)/gi;
  const seen = new Set<string>();
  const queue = [entry.href];
  while (queue.length > 0) {
    const href = queue.pop()!;
    if (seen.has(href)) continue;
    seen.add(href);
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(href));
    } catch {
      continue; // the CLI warns and goes on
    }
    for (const match of text.matchAll(pattern)) {
      const specifier = (match[1] || match[2] || "").trim();
      if (!/^\.\.?\//.test(specifier) || !/\.[a-z]+$/i.test(specifier)) continue;
      queue.push(new URL(specifier, href).href);
    }
  }
  return [...seen].map((href) => href.slice(ROOT.href.length)).sort();
}

Deno.test("cloud mode loads only cloud code", async (t) => {
  const edge = await loadModuleGraph(EDGE_ENTRY);
  const main = await loadModuleGraph(MAIN);

  await t.step("the list is live: main.ts reaches every stand-in through await import()", () => {
    const dynamic = localOnly(main, { dynamic: true });
    for (const prefix of LOCAL_ONLY_PATHS) assert.ok(dynamic.some((p) => p.startsWith(prefix)), prefix);
    for (const name of LOCAL_ONLY_PACKAGES) assert.ok(dynamic.includes(`npm:${name}`), name);
  });

  await t.step("the Edge Function's graph holds no stand-in, static or dynamic", () => {
    assert.deepEqual(localOnly(edge, { dynamic: false }), []);
    assert.deepEqual(localOnly(edge, { dynamic: true }), []);
  });

  await t.step("main.ts's static graph holds no stand-in", () => {
    assert.deepEqual(localOnly(main, { dynamic: false }), []);
  });

  await t.step("the Supabase CLI uploads no stand-in with the Edge Function", async () => {
    const uploaded = await uploadWalk(EDGE_ENTRY);
    assert.ok(uploaded.includes("src/app.ts"), uploaded.join("\n"));
    assert.deepEqual(uploaded.filter((path) => LOCAL_ONLY_PATHS.some((prefix) => path.startsWith(prefix))), []);
  });
});
