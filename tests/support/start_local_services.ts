/**
 * Run by `deno task test` before the tests: starts the local Postgres and
 * Redis when they are installed but stopped, with the commands `.ci/run`
 * uses, so a developer's `deno task test` runs against the real services
 * instead of the embedded fallback.
 *
 * Only for the default local URLs: a `DATABASE_URL` or `REDIS_URL` pointing
 * elsewhere is the caller's business (and the fallback run of `.ci/run`
 * points both at closed ports on purpose). It never fails: a service that is
 * not installed or does not start is reported on one line and left to the
 * tests' fallback (or to their failure under `REQUIRE_SERVICES=1`).
 *
 * @module
 */

/** The URLs the tests use when none is set (tests/support/services.ts). */
const DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** How long a started service gets to accept connections. */
const START_BUDGET_MS = 20_000;

async function _accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Polls the port until it accepts or the budget is spent: a service starting up has no event to wait on. */
async function _awaitPort(port: number): Promise<boolean> {
  const deadline = Date.now() + START_BUDGET_MS;
  while (Date.now() < deadline) {
    if (await _accepts(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function _run(command: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const out = await new Deno.Command(command, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
    const decoder = new TextDecoder();
    return { ok: out.success, output: (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim() };
  } catch (error) {
    return { ok: false, output: error instanceof Deno.errors.NotFound ? "not installed" : String(error) };
  }
}

async function _postgresVersion(): Promise<string | null> {
  try {
    const versions: string[] = [];
    for await (const entry of Deno.readDir("/etc/postgresql")) if (entry.isDirectory) versions.push(entry.name);
    return versions.sort((a, b) => Number(a) - Number(b)).at(-1) ?? null;
  } catch {
    return null;
  }
}

async function _startPostgres(): Promise<void> {
  const url = Deno.env.get("DATABASE_URL") ?? DEFAULT_DATABASE_URL;
  if (url !== DEFAULT_DATABASE_URL || await _accepts(5432)) return;
  const version = await _postgresVersion();
  if (!version) return console.log("Postgres is not running and no cluster is installed: the tests use PGlite");
  const started = await _run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"]);
  if (!started.ok && !(await _accepts(5432))) {
    return console.log(`Could not start Postgres ${version} (${started.output}): the tests use PGlite`);
  }
  console.log(
    (await _awaitPort(5432))
      ? `Started Postgres ${version} on 127.0.0.1:5432`
      : `Postgres ${version} did not accept connections: the tests use PGlite`,
  );
}

async function _startRedis(): Promise<void> {
  const url = Deno.env.get("REDIS_URL") ?? DEFAULT_REDIS_URL;
  if (url !== DEFAULT_REDIS_URL || await _accepts(6379)) return;
  const started = await _run("redis-server", [
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  if (!started.ok) return console.log(`Could not start Redis (${started.output}): the tests use the in-memory lock`);
  console.log(
    (await _awaitPort(6379))
      ? "Started Redis on 127.0.0.1:6379"
      : "Redis did not accept connections: the tests use the in-memory lock",
  );
}

if (import.meta.main) {
  await Promise.all([_startPostgres(), _startRedis()]).catch((error) => console.log(`Starting services: ${error}`));
}
