/**
 * `deno task mutants`: proves the reliability suite would notice if the
 * money rules stopped holding. For each mutant of `mutants.ts`, one at a
 * time: a scratch copy of the working tree (tracked and new files, not
 * `.data/`), the one change applied, and the mutant's tests run there with
 * `REQUIRE_SERVICES=1`. A mutated migration changes the migrations' digest,
 * so the copy's tests build a scratch template database from the broken SQL
 * (dropped afterwards); nothing the other suites use is touched.
 *
 * A control run of the unmutated copy comes first: the tests must pass
 * there, or a "kill" would mean nothing. A mutant is caught when its tests
 * fail, survives when they pass, and is stale when its target text is no
 * longer where the mutant expects it (also a failure).
 *
 * Options: `--scale <n>` (RELIABILITY_SCALE of the runs, default 0.5),
 * `--only <name>[,<name>]`, `--no-control`. Prints `mutants caught: k/n`
 * and exits non-zero unless every mutant was caught.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectPostgres } from "../../../src/db/sql_client.ts";
import { adminDatabaseUrl } from "../../support/services.ts";
import { type Mutant, MUTANTS } from "./mutants.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** The working tree's files: tracked and new ones, as git lists them (ignored ones, like `.data/`, left out). */
async function _files(): Promise<string[]> {
  const out = await new Deno.Command("git", { args: ["ls-files", "-co", "--exclude-standard", "-z"], cwd: ROOT })
    .output();
  if (!out.success) throw new Error(`git ls-files failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\0").filter((f) => f.length > 0);
}

/** Copies the working tree into a fresh folder. */
async function _scratchCopy(files: string[], label: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `mutant-${label}-` });
  for (const file of files) {
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.copyFile(`${ROOT}${file}`, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted in the work tree, still in the index
    }
  }
  return dir;
}

/** Applies `mutant` in `dir`; false when its text is not there `occurrences` times (stale). */
async function _apply(dir: string, mutant: Mutant): Promise<boolean> {
  const path = `${dir}/${mutant.file}`;
  const text = await Deno.readTextFile(path);
  const found = text.split(mutant.find).length - 1;
  if (found !== mutant.occurrences) return false;
  await Deno.writeTextFile(path, text.replaceAll(mutant.find, mutant.replace));
  return true;
}

/** The template database the copy's tests build (test_db.ts names it after the migrations' digest). */
async function _templateOf(dir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { migrationsDigest } from "./tests/support/migrations_digest.ts"; console.log(await migrationsDigest());`,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return `test_tmpl_${new TextDecoder().decode(out.stdout).trim()}`;
}

async function _dropDatabase(name: string): Promise<void> {
  const admin = connectPostgres(adminDatabaseUrl(), { max: 1, applicationName: "reliability-mutants" });
  try {
    const exists = await admin.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.length === 0) return;
    await admin.exec(`alter database "${name}" with is_template false`);
    await admin.exec(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.close();
  }
}

interface Run {
  passed: boolean;
  seconds: number;
  /** The first failing test's name and assertion, when it failed. */
  failure: string;
}

async function _runTests(dir: string, tests: string[], scale: string): Promise<Run> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...tests],
    cwd: dir,
    env: { REQUIRE_SERVICES: "1", RELIABILITY_SCALE: scale, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const failure = text.split("\n").find((line) => /AssertionError|error: /.test(line))?.trim() ?? "";
  return { passed: out.success, seconds: Math.round((performance.now() - started) / 100) / 10, failure };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { scale: { type: "string", default: "0.5" }, only: { type: "string" }, "no-control": { type: "boolean" } },
  });
  const only = values.only ? new Set(values.only.split(",")) : null;
  const mutants = MUTANTS.filter((m) => !only || only.has(m.name));
  const files = await _files();
  const results: Array<{ name: string; verdict: "caught" | "survived" | "stale"; seconds: number; by: string }> = [];

  if (!values["no-control"]) {
    const tests = [...new Set(mutants.flatMap((m) => m.tests))];
    const dir = await _scratchCopy(files, "control");
    try {
      const control = await _runTests(dir, tests, values.scale);
      console.log(`control (no mutant): ${control.passed ? "passes" : "FAILS"} in ${control.seconds} s`);
      if (!control.passed) {
        console.log(`the unmutated suite fails, so no kill would mean anything: ${control.failure}`);
        Deno.exit(1);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }

  for (const mutant of mutants) {
    const dir = await _scratchCopy(files, mutant.name);
    let template: string | null = null;
    try {
      if (!(await _apply(dir, mutant))) {
        results.push({
          name: mutant.name,
          verdict: "stale",
          seconds: 0,
          by: `"${mutant.find}" not found ${mutant.occurrences}×`,
        });
      } else {
        if (mutant.file.startsWith("supabase/")) template = await _templateOf(dir);
        const run = await _runTests(dir, mutant.tests, values.scale);
        results.push({
          name: mutant.name,
          verdict: run.passed ? "survived" : "caught",
          seconds: run.seconds,
          by: run.passed ? "" : run.failure.slice(0, 200),
        });
      }
    } finally {
      if (template) await _dropDatabase(template);
      await Deno.remove(dir, { recursive: true });
    }
    const last = results.at(-1)!;
    console.log(
      `${last.verdict.padEnd(8)} ${mutant.name} (${last.seconds} s) — ${mutant.breaks}${
        last.by ? `\n         ${last.by}` : ""
      }`,
    );
  }
  const caught = results.filter((r) => r.verdict === "caught").length;
  console.log(`mutants caught: ${caught}/${results.length}`);
  console.log(
    `RELIABILITY ${
      JSON.stringify({ suite: "mutants", scale: Number(values.scale), caught, total: results.length, results })
    }`,
  );
  Deno.exit(caught === results.length ? 0 : 1);
}
