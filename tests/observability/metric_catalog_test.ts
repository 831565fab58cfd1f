/**
 * Every metric the code records is declared in the catalog, with the type
 * and the labels it is recorded with: an undeclared name or label would be
 * exported without help text, or dropped (`metrics_dropped_total`).
 */
import assert from "node:assert/strict";
import { METRIC_CATALOG, type MetricSpec } from "../../src/observability/metric_catalog.ts";

const SRC = new URL("../../src/", import.meta.url);

async function* _sources(dir: URL): AsyncGenerator<[string, string]> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* _sources(url);
    else if (entry.name.endsWith(".ts")) yield [url.pathname, await Deno.readTextFile(url)];
  }
}

Deno.test("every metrics.inc / observe in src/ names a declared metric of that type, with declared labels", async () => {
  const catalog: Record<string, MetricSpec> = METRIC_CATALOG;
  const problems: string[] = [];
  let calls = 0;
  for await (const [path, text] of _sources(SRC)) {
    for (const match of text.matchAll(/metrics\.(inc|observe)\(\s*"([a-z_]+)"\s*(?:,\s*(\{[^}]*\}|[a-z]\w*))?/g)) {
      calls++;
      const [, method, name, labels] = match;
      const spec = catalog[name!];
      const where = `${path.slice(SRC.pathname.length)}: ${name}`;
      if (!spec) {
        problems.push(`${where} is not in the catalog`);
        continue;
      }
      if (spec.type !== (method === "inc" ? "counter" : "histogram")) problems.push(`${where} is a ${spec.type}`);
      if (labels?.startsWith("{")) {
        const keys = labels.slice(1, -1).split(",").map((part) => part.split(":")[0]!.trim()).filter(Boolean);
        for (const key of keys) if (!spec.labels.includes(key)) problems.push(`${where}: label ${key} is not declared`);
      }
    }
  }
  assert.ok(calls >= 15, `only ${calls} calls found: is the pattern still right?`);
  assert.deepEqual(problems, []);
});
