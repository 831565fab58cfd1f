import assert from "node:assert/strict";
import { errorFromSqlState, isPaymentSqlState, SQLSTATES } from "../../src/store/sql_states.ts";

/** Every `errcode = 'PMnnn'` raised in the migrations, with the functions that raise it. */
async function raisedInMigrations(): Promise<Set<string>> {
  const dir = new URL("../../supabase/migrations/", import.meta.url);
  const codes = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".sql")) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    for (const match of sql.matchAll(/errcode\s*=\s*'(PM[0-9A-Z]{3})'/g)) codes.add(match[1]!);
  }
  return codes;
}

Deno.test("the TypeScript SQLSTATE table and the migrations name the same PM codes", async () => {
  const raised = await raisedInMigrations();
  assert.ok(raised.size > 0, "the scan found errcodes");
  assert.deepEqual([...raised].sort(), Object.keys(SQLSTATES).sort());
});

Deno.test("errorFromSqlState() maps every SQLSTATE of ours", async (t) => {
  for (const [state, name] of Object.entries(SQLSTATES)) {
    await t.step(`${state} (${name})`, () => {
      assert.ok(isPaymentSqlState(state));
      const error = errorFromSqlState(state, "msg");
      if (name === "ledger_append_only") assert.equal(error, undefined);
      else if (name === "invalid_argument") assert.equal(error?.code, "validation_failed");
      else assert.equal(error?.code, name);
    });
  }
  await t.step("other codes are not ours", () => {
    for (const code of ["23505", "08006", "P0001", "PM999", "toString"]) assert.equal(isPaymentSqlState(code), false);
  });
});
