/**
 * Module graphs as `deno info --json` reports them, and the parts of them a
 * start-up actually loads: the static closure (imports evaluated before the
 * entry runs) apart from `await import()`s and type-only imports.
 *
 * Run it to measure an entry (the numbers in README "Cold start"):
 *
 * ```sh
 * deno run -A tests/runtime/module_graph.ts supabase/functions/payments/index.ts
 * ```
 *
 * @module
 */

/** One import of a module. */
export interface GraphEdge {
  /** The resolved specifier (redirects followed). */
  target: string;
  /** `await import()`: loaded only when the code runs it. */
  dynamic: boolean;
}

/** One module of the graph. */
export interface GraphModule {
  specifier: string;
  kind: string;
  /** Bytes of source (local modules). */
  size: number;
  /** The npm package (`name@version`) of an `npm:` module. */
  npmPackage: string | null;
  /** Runtime imports; type-only imports are left out, they are erased. */
  imports: GraphEdge[];
}

/** A graph and the npm packages it resolved. */
export interface ModuleGraph {
  roots: string[];
  modules: Map<string, GraphModule>;
  /** `name@version` → its dependencies (`name@version`) and where it is cached. */
  npmPackages: Map<string, { dependencies: string[]; localPath: string | null }>;
}

interface _InfoJson {
  roots: string[];
  modules: Array<{
    specifier: string;
    kind: string;
    size?: number;
    npmPackage?: string;
    dependencies?: Array<{ code?: { specifier: string }; isDynamic?: boolean }>;
  }>;
  redirects: Record<string, string>;
  npmPackages: Record<string, { dependencies: string[]; localPath?: string }>;
}

/**
 * Runs `deno info --json` on `entry` (a path or URL) with the repository's
 * deno.json.
 *
 * @throws {Error} when `deno info` fails
 */
export async function loadModuleGraph(entry: string | URL): Promise<ModuleGraph> {
  const path = entry instanceof URL ? entry.pathname : entry;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info ${path} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as _InfoJson;
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;
  const modules = new Map<string, GraphModule>();
  for (const m of info.modules) {
    modules.set(m.specifier, {
      specifier: m.specifier,
      kind: m.kind,
      size: m.size ?? 0,
      npmPackage: m.npmPackage ?? null,
      imports: (m.dependencies ?? []).filter((d) => d.code).map((d) => ({
        target: resolve(d.code!.specifier),
        dynamic: d.isDynamic === true,
      })),
    });
  }
  return {
    roots: info.roots.map(resolve),
    modules,
    npmPackages: new Map(
      Object.entries(info.npmPackages).map((
        [id, p],
      ) => [id, { dependencies: p.dependencies, localPath: p.localPath ?? null }]),
    ),
  };
}

/**
 * The modules reachable from the roots through runtime imports; with
 * `dynamic: false`, only those loaded before the entry's first line runs.
 */
export function reachableModules(graph: ModuleGraph, { dynamic }: { dynamic: boolean }): GraphModule[] {
  const seen = new Set<string>();
  const queue = [...graph.roots];
  const found: GraphModule[] = [];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const module = graph.modules.get(specifier);
    if (!module) continue;
    found.push(module);
    for (const edge of module.imports) if (dynamic || !edge.dynamic) queue.push(edge.target);
  }
  return found;
}

/** The npm packages (`name@version`) `modules` load, with their dependencies. */
export function npmPackagesOf(graph: ModuleGraph, modules: GraphModule[]): string[] {
  const seen = new Set<string>();
  const queue = modules.flatMap((m) => (m.npmPackage ? [m.npmPackage] : []));
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...(graph.npmPackages.get(id)?.dependencies ?? []));
  }
  return [...seen].sort();
}

/** What one part of a graph weighs. */
export interface GraphWeight {
  /** Local (`file:`) modules. */
  localModules: number;
  localBytes: number;
  /** npm packages, dependencies included. */
  npmPackages: string[];
  /** Bytes of those packages in Deno's cache, as `deno info` counts them. */
  npmBytes: number;
}

/** Counts and sizes `modules` (npm packages measured on disk). */
export async function weigh(graph: ModuleGraph, modules: GraphModule[]): Promise<GraphWeight> {
  const local = modules.filter((m) => m.specifier.startsWith("file:"));
  const npmPackages = npmPackagesOf(graph, modules);
  let npmBytes = 0;
  for (const id of npmPackages) {
    const dir = graph.npmPackages.get(id)?.localPath;
    if (dir) npmBytes += await _directoryBytes(dir);
  }
  return {
    localModules: local.length,
    localBytes: local.reduce((sum, m) => sum + m.size, 0),
    npmPackages,
    npmBytes,
  };
}

async function _directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await _directoryBytes(path);
    else if (entry.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

function _format(label: string, w: GraphWeight): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
  return `${label}: ${w.localModules} local modules (${kb(w.localBytes)}), ${w.npmPackages.length} npm packages ` +
    `(${mb(w.npmBytes)}): ${w.npmPackages.map((id) => id.replace(/@[^@]+$/, "")).join(", ")}`;
}

if (import.meta.main) {
  for (const entry of Deno.args) {
    const graph = await loadModuleGraph(entry);
    console.log(entry);
    console.log(`  ${_format("static", await weigh(graph, reachableModules(graph, { dynamic: false })))}`);
    console.log(`  ${_format("with await import()", await weigh(graph, reachableModules(graph, { dynamic: true })))}`);
  }
}
