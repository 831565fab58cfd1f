import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";
import { pathsFromPending } from "../support/payment_paths.ts";
import { canTransition, PAYMENT_STATES } from "../../src/payments/payment_state.ts";
import { SqlError } from "../../src/db/sql_client.ts";

/** Puts a fresh payment into a state by a legal path (as the superuser, through the guard). */
const PATHS = pathsFromPending();

Deno.test("the TypeScript transition table mirrors the SQL guard for every pair of distinct states", async (t) => {
  const { db, close } = await createTestDatabase();
  try {
    for (const from of PAYMENT_STATES) {
      for (const to of PAYMENT_STATES) {
        if (from === to) continue;
        await t.step(`${from} → ${to}: ${canTransition(from, to) ? "allowed" : "refused"}`, async () => {
          const reference = `mirror-${from}-${to}`;
          await db.query(
            "insert into payment_logs (user_id, reference, amount, currency) values ($1, $2, 1000, 'NGN')",
            [crypto.randomUUID(), reference],
          );
          for (const step of PATHS[from]) {
            await db.query("update payment_logs set state = $2 where reference = $1", [reference, step]);
          }
          let refused: SqlError | null = null;
          try {
            await db.query("update payment_logs set state = $2 where reference = $1", [reference, to]);
          } catch (error) {
            if (!(error instanceof SqlError)) throw error;
            refused = error;
          }
          if (canTransition(from, to)) assert.equal(refused, null);
          else assert.equal(refused?.code, "PM001");
        });
      }
    }
  } finally {
    await close();
  }
});
