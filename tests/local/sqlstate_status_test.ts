/** Every row of the SQLSTATE → HTTP table of `reference/postgrest-rpc.md`. */
import assert from "node:assert/strict";
import { statusForSqlState } from "../../src/local/rpc_gateway/sqlstate_status.ts";

/** [row of the reference table, SQLSTATEs that fall in it, expected status]. */
const TABLE: [string, string[], number][] = [
  ["08* → 503", ["08000", "08003", "08006", "08P01"], 503],
  ["09* → 500", ["09000"], 500],
  ["0L*, 0P* → 403", ["0L000", "0LP01", "0P000"], 403],
  ["23503, 23505 → 409", ["23503", "23505"], 409],
  ["25006 → 405", ["25006"], 405],
  ["25*, 2D*, 38*, 39*, 3B*, 40*, 53400, 54*, 55*, 57* → 500", [
    "25000",
    "25001",
    "25P02",
    "2D000",
    "38001",
    "39001",
    "3B001",
    "40001",
    "40P01",
    "53400",
    "54001",
    "55P03",
    "57014",
  ], 500],
  ["57P01 → 503", ["57P01"], 503],
  ["28* → 403", ["28000", "28P01"], 403],
  ["53* (other) → 503", ["53000", "53100", "53200", "53300"], 503],
  ["58*, F0*, HV*, XX*, 42P17 → 500", ["58000", "58030", "F0000", "F0001", "HV000", "XX000", "XX001", "42P17"], 500],
  ["P0001 (plain RAISE EXCEPTION) → 400", ["P0001"], 400],
  ["other P0* → 500", ["P0000", "P0002", "P0003", "P0004"], 500],
  ["42883, 42P01 → 404", ["42883", "42P01"], 404],
  ["anything else → 400", ["22P02", "22012", "23502", "23514", "42703", "42601", "0A000", "22023"], 400],
];

Deno.test("statusForSqlState() follows the reference table", async (t) => {
  for (const [row, codes, status] of TABLE) {
    await t.step(row, () => {
      for (const code of codes) {
        assert.equal(statusForSqlState(code, "some message", true), status, code);
        assert.equal(statusForSqlState(code, "some message", false), status, `${code} (anonymous)`);
      }
    });
  }

  await t.step("42501 → 403 when authenticated, 401 for anon", () => {
    assert.equal(statusForSqlState("42501", "permission denied for function f", true), 403);
    assert.equal(statusForSqlState("42501", "permission denied for function f", false), 401);
  });

  await t.step("PTnnn → nnn", () => {
    assert.equal(statusForSqlState("PT402", "m", true), 402);
    assert.equal(statusForSqlState("PT201", "m", true), 201);
    assert.equal(statusForSqlState("PT409", "m", false), 409);
    assert.equal(statusForSqlState("PT599", "m", true), 599);
  });

  await t.step("PTnnn that no Response can carry → 500", () => {
    for (const code of ["PT100", "PT199", "PT600", "PT999", "PTabc", "PT4x2"]) {
      assert.equal(statusForSqlState(code, "m", true), 500, code);
    }
  });
});

Deno.test("statusForSqlState() keeps PostgREST's refinements", async (t) => {
  await t.step("21000 → 500, or 400 for pg-safeupdate's missing WHERE", () => {
    assert.equal(statusForSqlState("21000", "more than one row returned by a subquery", true), 500);
    assert.equal(statusForSqlState("21000", "DELETE requires a WHERE clause", true), 400);
  });

  await t.step("22023 role does not exist (a JWT naming an unknown role) → 401", () => {
    assert.equal(statusForSqlState("22023", 'role "ghost" does not exist', true), 401);
    assert.equal(statusForSqlState("22023", "invalid value for parameter", true), 400);
  });

  await t.step("42883 on xmlagg → 406", () => {
    assert.equal(statusForSqlState("42883", "function xmlagg(text) does not exist", true), 406);
    assert.equal(statusForSqlState("42883", "function f(integer) does not exist", true), 404);
  });
});
