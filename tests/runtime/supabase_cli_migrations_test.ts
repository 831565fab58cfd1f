/**
 * The Supabase CLI reads `supabase/config.toml` and agrees with the project's
 * migration runner (issue 12, "done when"): a fresh database migrated with
 * `deno task db:migrate` is listed by `supabase migration list --db-url …`
 * (no Docker) with every file of `supabase/migrations` applied, and nothing
 * else. The runner records its migrations in
 * `supabase_migrations.schema_migrations`, the CLI's own table
 * (`src/db/migrate.ts`); a second run without the last row proves the test
 * reads the CLI's answer, not its own expectations.
 *
 * The CLI comes from the npm cache (`npx --offline -y supabase@<version>`,
 * versions in `SUPABASE_CLI_VERSIONS`, default `2`), or from
 * `SUPABASE_CLI` (a `supabase` executable). The test never downloads it:
 * when it cannot run offline, or Postgres does not answer (the CLI needs a
 * Postgres server; PGlite has none), the test is skipped with the reason
 * printed. `.ci/run` fetches `supabase@2` into the npm cache first (about
 * 10 s and 220 MB cold), and goes on without it when npm cannot be reached.
 * It fails when the CLI runs and rejects the configuration or lists other
 * migrations than the runner applied.
 *
 * The CLI runs in a temporary folder whose `supabase/config.toml` and
 * `supabase/migrations` are symbolic links to the repository's, so what it
 * writes (`supabase/.temp/`) stays out of the work tree.
 */
import assert from "node:assert/strict";
import { readMigrations } from "../../src/db/migrate.ts";
import { createTestDatabase } from "../support/test_db.ts";
import { ignoreWithout, postgresReachable } from "../support/services.ts";

const NAME = "Supabase CLI: config.toml parses and migration list matches the runner";
const ROOT = new URL("../../", import.meta.url);
const TIMEOUT_MS = 120_000;

/** One way of running the CLI: a label and the command line before the CLI's own arguments. */
interface Cli {
  label: string;
  command: string[];
}

interface Ran {
  code: number;
  out: string;
}

function _env(): Record<string, string> {
  const keep = [
    "PATH",
    "HOME",
    "USER",
    "TMPDIR",
    "DENO_DIR",
    "XDG_CACHE_HOME",
    "npm_config_cache",
    "NPM_CONFIG_CACHE",
    "NODE_EXTRA_CA_CERTS",
  ];
  const env: Record<string, string> = { DO_NOT_TRACK: "1", NO_COLOR: "1" };
  for (const name of keep) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function _run(command: string[], cwd: string | URL, env = _env()): Promise<Ran> {
  const [program, ...args] = command;
  const out = await new Deno.Command(program!, {
    args,
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, out: `${decode(out.stdout)}${decode(out.stderr)}` };
}

/** The CLIs to check, each runnable offline, or why none is. */
async function _clis(): Promise<{ clis: Cli[]; skipped: string[] }> {
  const explicit = Deno.env.get("SUPABASE_CLI");
  const candidates: Cli[] = explicit
    ? [{ label: explicit, command: [explicit] }]
    : (Deno.env.get("SUPABASE_CLI_VERSIONS") ?? "2").split(",").map((v) => v.trim()).filter(Boolean).map((v) => ({
      label: `supabase@${v}`,
      command: ["npx", "--offline", "-y", `supabase@${v}`],
    }));
  const clis: Cli[] = [];
  const skipped: string[] = [];
  const scratch = await Deno.makeTempDir({ prefix: "supabase-cli-probe-" });
  for (const cli of candidates) {
    try {
      const probe = await _run([...cli.command, "--version"], scratch);
      if (probe.code === 0) {
        clis.push({ ...cli, label: `${cli.label} (${probe.out.trim().split("\n").at(-1)})` });
      } else {
        const lines = probe.out.trim().split("\n").filter((line) => line && !/complete log of this run/.test(line));
        const hint = /ENOTCACHED/.test(probe.out)
          ? `not in the npm cache; \`npx -y ${cli.command.at(-1)} --version\` fetches it`
          : lines.find((line) => !/npm error code/.test(line)) ?? `exit code ${probe.code}`;
        skipped.push(`${cli.label} cannot run offline (${hint})`);
      }
    } catch (error) {
      skipped.push(
        `${cli.label} cannot run (${error instanceof Deno.errors.NotFound ? "npx is not installed" : String(error)})`,
      );
    }
  }
  await Deno.remove(scratch, { recursive: true });
  return { clis, skipped };
}

/** The rows of `supabase migration list`'s table: `Local | Remote | Time (UTC)`, versions in backticks. */
function _listed(output: string): Array<{ local: string | null; remote: string | null }> {
  const rows: Array<{ local: string | null; remote: string | null }> = [];
  for (const line of output.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim().replaceAll("`", ""));
    if (cells.length < 3) continue;
    const [local, remote] = cells;
    const version = (cell: string | undefined) => (cell && /^\d{14}$/.test(cell) ? cell : null);
    if (version(local) === null && version(remote) === null) continue;
    rows.push({ local: version(local), remote: version(remote) });
  }
  return rows;
}

function _withSslmodeDisable(url: string): string {
  const u = new URL(url);
  // The CLI (2.x) insists on TLS unless told otherwise; the local Postgres has none.
  if (!u.searchParams.has("sslmode")) u.searchParams.set("sslmode", "disable");
  return u.toString();
}

// A missing Postgres skips (with its reason) only without REQUIRE_SERVICES=1; under it the test runs and fails.
const ignorePostgres = await ignoreWithout(["postgres"], NAME, "the CLI needs a Postgres server; PGlite has none");
const { clis, skipped } = (await postgresReachable()) ? await _clis() : { clis: [], skipped: [] };
const cliReason = !ignorePostgres && (await postgresReachable()) && clis.length === 0 ? skipped.join("; ") : null;
if (cliReason !== null) console.log(`skipped "${NAME}": ${cliReason}`);
else if (skipped.length > 0) console.log(`"${NAME}": ${skipped.join("; ")}`);

Deno.test({
  name: NAME,
  ignore: ignorePostgres || cliReason !== null,
  async fn(t) {
    const files = (await readMigrations()).map((m) => m.version);
    const database = await createTestDatabase({ migrated: false });
    const workdir = await Deno.makeTempDir({ prefix: "supabase-cli-" });
    try {
      assert.equal(database.engine, "postgres");
      // The project's runner, as a user runs it.
      const migrated = await _run([Deno.execPath(), "task", "-q", "db:migrate"], ROOT, {
        ..._env(),
        DATABASE_URL: database.url,
      });
      assert.equal(migrated.code, 0, migrated.out);
      assert.match(
        migrated.out,
        new RegExp(`applied ${files.length} migration\\(s\\): ${files.join(", ")}; 0 already`),
      );
      const recorded = (await database.db.query<{ version: string }>(
        "select version from supabase_migrations.schema_migrations order by version",
      )).map((r) => r.version);
      assert.deepEqual(recorded, files, "the runner records every file in supabase_migrations.schema_migrations");

      await Deno.mkdir(`${workdir}/supabase`);
      await Deno.symlink(new URL("supabase/config.toml", ROOT).pathname, `${workdir}/supabase/config.toml`);
      await Deno.symlink(new URL("supabase/migrations", ROOT).pathname, `${workdir}/supabase/migrations`);
      const dbUrl = _withSslmodeDisable(database.url);

      for (const cli of clis) {
        await t.step(cli.label, async () => {
          const listed = await _run([...cli.command, "migration", "list", "--db-url", dbUrl], workdir);
          assert.equal(listed.code, 0, `the CLI refused (config.toml or the database):\n${listed.out}`);
          const rows = _listed(listed.out);
          assert.deepEqual(rows, files.map((v) => ({ local: v, remote: v })), `migration list:\n${listed.out}`);

          // The control: without the runner's last row, the CLI shows that migration as not applied.
          const last = files.at(-1)!;
          await database.db.query("delete from supabase_migrations.schema_migrations where version = $1", [last]);
          try {
            const missing = _listed(
              (await _run([...cli.command, "migration", "list", "--db-url", dbUrl], workdir)).out,
            );
            assert.deepEqual(missing.at(-1), { local: last, remote: null });
          } finally {
            await database.db.query(
              "insert into supabase_migrations.schema_migrations (version, name) values ($1, 'control')",
              [last],
            );
          }
        });
      }
    } finally {
      await database.close();
      await Deno.remove(workdir, { recursive: true });
    }
  },
});
