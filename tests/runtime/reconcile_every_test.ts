/**
 * `deno task reconcile --every <duration>`: the local stand-in for the
 * pg_cron schedule. Started as a process, it prints one JSON line per pass
 * and stops cleanly on Ctrl-C (SIGINT). The test waits for the lines (events),
 * not for time.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";

Deno.test("reconcile --every 1s: a JSON line per pass until SIGINT, then exit 0", async () => {
  const database = await createTestDatabase();
  const dataDir = await Deno.makeTempDir();
  try {
    // The service's own variables come from the test only (the runner's DATABASE_URL may be a dead port).
    const inherited = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([name]) =>
        !/^(DATABASE_URL|REDIS_URL|SUPABASE_|UPSTASH_)/.test(name)
      ),
    );
    const env: Record<string, string> = database.url
      ? { DATABASE_URL: database.url }
      // PGlite fallback: the command runs embedded on a database of its own.
      : { DATA_DIR: dataDir };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "reconcile", "--every", "1s"],
      cwd: new URL("../../", import.meta.url),
      env: {
        ...inherited,
        ...env,
        APP_ENV: "test",
        LOCK_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
        LOG_LEVEL: "error",
      },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const passes: Array<Record<string, unknown>> = [];
    let buffered = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (passes.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines.filter(Boolean)) passes.push(JSON.parse(line));
    }
    child.kill("SIGINT");
    await reader.cancel();
    const status = await child.status;
    const errors = await stderr;
    assert.equal(passes.length, 2, errors);
    for (const pass of passes) {
      assert.equal(typeof pass.at, "string");
      assert.equal(pass.examined, 0);
      assert.equal(pass.errors, 0);
    }
    assert.ok(Date.parse(String(passes[1]!.at)) - Date.parse(String(passes[0]!.at)) >= 1000);
    assert.match(errors, /reconciling every 1 s/);
    assert.equal(status.code, 0, errors);
  } finally {
    await database.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
