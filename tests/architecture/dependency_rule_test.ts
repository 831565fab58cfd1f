/**
 * The dependency rule of docs/ARCHITECTURE.md, checked on the source:
 * http → payments → ports ← adapters, runtime wires. Every `import` (type
 * imports included: they are dependencies of the source even though they are
 * erased) of every module under src/ is resolved and grouped by room — a
 * folder of src/, or a file directly in src/ — and:
 *
 * - no two rooms import each other, directly or round a longer cycle;
 * - src/payments imports no adapter: only itself, errors.ts, observability/
 *   and the lock port (lock/lock_service.ts with its helper with_lock.ts).
 */
import assert from "node:assert/strict";

const SRC = new URL("../../src/", import.meta.url);

/** Every .ts file under src/, as paths relative to src/. */
async function sourceFiles(dir = SRC, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) files.push(...await sourceFiles(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith(".ts")) files.push(`${prefix}${entry.name}`);
  }
  return files;
}

/** The relative imports of one file (static, dynamic, type-only and re-exports), resolved against src/. */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(file, SRC));
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g),
    ...text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  return specifiers.map((spec) => new URL(spec, new URL(file, SRC)).href.slice(SRC.href.length))
    .filter((path) => !path.startsWith(".."));
}

/** The room of a module: its first folder under src/, or the file itself when it sits in src/. */
function roomOf(path: string): string {
  const slash = path.indexOf("/");
  return slash === -1 ? path : path.slice(0, slash);
}

/** Rooms and the rooms they import, with one example import per edge. */
async function roomGraph(): Promise<Map<string, Map<string, string>>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of await sourceFiles()) {
    const from = roomOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const target of await importsOf(file)) {
      const to = roomOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, `${file} → ${target}`);
    }
  }
  return graph;
}

/** A cycle of rooms, or null. */
function findCycle(graph: Map<string, Map<string, string>>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (room: string): string[] | null => {
    if (state.get(room) === "done") return null;
    if (state.get(room) === "open") return [...path.slice(path.indexOf(room)), room];
    state.set(room, "open");
    path.push(room);
    for (const next of graph.get(room)?.keys() ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(room, "done");
    return null;
  };
  for (const room of graph.keys()) {
    const cycle = visit(room);
    if (cycle) return cycle;
  }
  return null;
}

Deno.test("no two rooms of src/ import each other, directly or round a cycle", async () => {
  const graph = await roomGraph();
  assert.ok(graph.size >= 8, `found the rooms: ${[...graph.keys()].join(", ")}`);
  const cycle = findCycle(graph);
  if (cycle) {
    const hops = cycle.slice(1).map((room, i) => graph.get(cycle[i]!)!.get(room));
    assert.fail(`import cycle ${cycle.join(" → ")}:\n  ${hops.join("\n  ")}`);
  }
});

Deno.test("src/payments imports no adapter: only the domain, errors, observability and the lock port", async () => {
  const allowed = (target: string) =>
    target.startsWith("payments/") || target === "errors.ts" || target.startsWith("observability/") ||
    target === "lock/lock_service.ts" || target === "lock/with_lock.ts";
  const offending: string[] = [];
  for (const file of (await sourceFiles()).filter((f) => f.startsWith("payments/"))) {
    for (const target of await importsOf(file)) if (!allowed(target)) offending.push(`${file} → ${target}`);
  }
  assert.deepEqual(offending, []);
});

Deno.test("the scan sees imports of every kind (the check cannot pass by finding nothing)", async () => {
  const imports = await importsOf("app.ts");
  assert.ok(imports.includes("payments/payment_store.ts"), "a type-only import");
  assert.ok(imports.includes("payments/initialize_payment.ts"), "a value import");
  const runtime = await importsOf("runtime/build_runtime.ts");
  assert.ok(runtime.some((path) => path.startsWith("local/")), "a dynamic import()");
});
