import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import { migrate } from "../../src/db/migrate.ts";

Deno.test("migrate() is safe to run twice", async () => {
  const t = await createTestDatabase({ migrated: false });
  try {
    const first = await migrate(t.db);
    const second = await migrate(t.db);
    assert.equal(second.applied.length, 0);
    assert.equal(second.skipped.length, first.applied.length + first.skipped.length);
    const [uid] = await t.db.query<{ ok: boolean }>("select auth.uid() is null as ok");
    assert.equal(uid?.ok, true);
  } finally {
    await t.close();
  }
});
