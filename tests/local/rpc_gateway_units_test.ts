/** Unit tests of the RPC gateway's pure parts (no database). */
import assert from "node:assert/strict";
import { SqlError } from "../../src/db/sql_client.ts";
import { ApiError } from "../../src/local/rpc_gateway/api_error.ts";
import { findRoutine } from "../../src/local/rpc_gateway/find_routine.ts";
import { parseGucHeaders, parseGucStatus } from "../../src/local/rpc_gateway/guc_response.ts";
import { authenticate, bearerToken } from "../../src/local/rpc_gateway/jwt_auth.ts";
import { negotiateMedia } from "../../src/local/rpc_gateway/media_type.ts";
import { requestSettingsStatement } from "../../src/local/rpc_gateway/request_settings.ts";
import { parseBodyArguments, parseQueryArguments } from "../../src/local/rpc_gateway/rpc_arguments.ts";
import { contentRange } from "../../src/local/rpc_gateway/rpc_response.ts";
import { type Routine, routineKey, type SchemaCache } from "../../src/local/rpc_gateway/schema_cache.ts";
import { withTransactionRetry } from "../../src/local/rpc_gateway/transaction_retry.ts";
import { JWT_SECRET, signToken } from "./rpc_gateway_fixture.ts";

function assertApiError(fn: () => unknown, status: number, code: string): ApiError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected ${code}`);
}

Deno.test("contentRange() formats PostgREST's Content-Range", () => {
  assert.equal(contentRange(3, null), "0-2/*");
  assert.equal(contentRange(3, 3), "0-2/3");
  assert.equal(contentRange(1, null), "0-0/*");
  assert.equal(contentRange(0, 0), "*/0");
  assert.equal(contentRange(0, null), "*/*");
});

Deno.test("requestSettingsStatement() sets the settings in the reference's order", () => {
  const { text, params } = requestSettingsStatement({
    schema: "api",
    extraSearchPath: ["public", 'we"ird'],
    role: "authenticated",
    claims: { sub: "u1", role: "authenticated" },
    method: "POST",
    path: "/rpc/fn",
    headers: new Headers({ "X-Trace": "t1", Cookie: "a=1; b = two" }),
  });
  const names = [...text.matchAll(/set_config\('([^']+)', \$(\d+), true\)/g)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(names, [
    ["search_path", 1],
    ["role", 2],
    ["request.jwt.claims", 3],
    ["request.method", 4],
    ["request.path", 5],
    ["request.headers", 6],
    ["request.cookies", 7],
  ]);
  assert.equal(params[0], '"api", "public", "we""ird"');
  assert.equal(params[1], "authenticated");
  assert.deepEqual(JSON.parse(params[2] as string), { sub: "u1", role: "authenticated" });
  assert.deepEqual(JSON.parse(params[5] as string), { "x-trace": "t1" });
  assert.deepEqual(JSON.parse(params[6] as string), { a: "1", b: "two" });
});

Deno.test("response.status / response.headers parsing", async (t) => {
  await t.step("status: unset, digits, leading digits", () => {
    assert.equal(parseGucStatus(null), null);
    assert.equal(parseGucStatus("201"), 201);
    assert.equal(parseGucStatus("202 Accepted"), 202);
  });
  await t.step("status: not a number or not answerable → PGRST112", () => {
    for (const raw of ["abc", "", "99", "600"]) assertApiError(() => parseGucStatus(raw), 500, "PGRST112");
  });
  await t.step("headers: array of single-key string objects", () => {
    assert.deepEqual(parseGucHeaders('[{"Location": "/x"}, {"X-A": "1"}]'), [["Location", "/x"], ["X-A", "1"]]);
    assert.deepEqual(parseGucHeaders(null), []);
  });
  await t.step("headers: anything else → PGRST111", () => {
    for (const raw of ['{"a": "b"}', '[{"a": 1}]', '[{"a": "1", "b": "2"}]', "[1]", "nope"]) {
      assertApiError(() => parseGucHeaders(raw), 500, "PGRST111");
    }
  });
});

Deno.test("negotiateMedia() picks the first producible type by q", () => {
  assert.equal(negotiateMedia(null).kind, "json");
  assert.equal(negotiateMedia("*/*").kind, "json");
  assert.equal(negotiateMedia("text/html, application/json;q=0.5").kind, "json");
  assert.equal(negotiateMedia("application/json;q=0.1, application/vnd.pgrst.object+json").kind, "object");
  const stripped = negotiateMedia("application/vnd.pgrst.array+json;nulls=stripped");
  assert.deepEqual([stripped.kind, stripped.stripNulls], ["array", true]);
  const error = assertApiError(() => negotiateMedia("text/csv, text/xml"), 406, "PGRST107");
  assert.equal(error.message, "None of these media types are available: text/csv, text/xml");
});

Deno.test("parseBodyArguments() follows PostgREST's payload rules", () => {
  assert.deepEqual([...parseBodyArguments("", null).keys], []);
  assert.equal(parseBodyArguments("", null).json, "{}");
  assert.deepEqual([...parseBodyArguments('{"b": 1, "a": 2}', "application/json; charset=utf-8").keys], ["b", "a"]);
  assert.equal(parseBodyArguments("5", null).json, "[]");
  assert.deepEqual([...parseBodyArguments('[{"a": 1}, {"a": 2}]', null).keys], ["a"]);
  assertApiError(() => parseBodyArguments("{", null), 400, "PGRST102");
  assertApiError(() => parseBodyArguments("[1, 2]", null), 400, "PGRST102");
  assertApiError(() => parseBodyArguments("a=1", "application/x-www-form-urlencoded"), 400, "PGRST102");
});

Deno.test("parseQueryArguments() separates arguments from what it does not implement", () => {
  const args = parseQueryArguments("?a=1&b=x+y&c=%7B1%2C2%7D&flag&v=1&v=2&select=*", true);
  assert.deepEqual([...args.values], [["a", ["1"]], ["b", ["x y"]], ["c", ["{1,2}"]], ["v", ["1", "2"]]]);
  assert.equal(parseQueryArguments("?a=1", false).keys.size, 0);
  for (const q of ["?id=eq.1", "?x=not.eq.1", "?x=is.null", "?x=in.(1,2)", "?x=fts(english).cat", "?order=id"]) {
    assertApiError(() => parseQueryArguments(q, true), 400, "PGRST127");
  }
  for (const q of ["?limit=1", "?offset=1", "?select=id", "?a.b=1", "?columns=a", "?or=(a.eq.1)"]) {
    assertApiError(() => parseQueryArguments(q, true), 400, "PGRST127");
  }
});

Deno.test("findRoutine() matches keys like PostgREST", async (t) => {
  const param = (name: string, required: boolean, type = "integer") => ({
    name,
    type,
    sqlType: type,
    required,
    variadic: false,
  });
  const routine = (name: string, params: Routine["params"]): Routine => ({
    schema: "public",
    name,
    params,
    returnsSet: false,
    returnsComposite: false,
    returnsVoid: false,
    volatility: "volatile",
  });
  const routines = [
    routine("f", [param("a", true), param("b", false)]),
    routine("g", [param("x", true)]),
    routine("g", [param("x", true, "text")]),
    routine("body", [param("", true, "jsonb")]),
    routine("none", []),
  ];
  const map = new Map<string, Routine[]>();
  for (const r of routines) {
    map.set(routineKey(r.schema, r.name), [...(map.get(routineKey(r.schema, r.name)) ?? []), r]);
  }
  const cache: SchemaCache = { routines: map };
  const find = (name: string, keys: string[], jsonPost = true) =>
    findRoutine(cache, { schema: "public", name, keys: new Set(keys), jsonPost });

  await t.step("required present, optional subset", () => {
    assert.equal(find("f", ["a"]).name, "f");
    assert.equal(find("f", ["a", "b"]).name, "f");
  });
  await t.step("unknown key or missing required → PGRST202", () => {
    assertApiError(() => find("f", ["a", "c"]), 404, "PGRST202");
    assertApiError(() => find("f", ["b"]), 404, "PGRST202");
    assertApiError(() => find("none", ["a"]), 404, "PGRST202");
  });
  await t.step("several matches → PGRST203", () => {
    const error = assertApiError(() => find("g", ["x"]), 300, "PGRST203");
    assert.equal(
      error.message,
      "Could not choose the best candidate function between: public.g(x => integer), public.g(x => text)",
    );
  });
  await t.step("single unnamed json(b) parameter takes any POST body, not GET", () => {
    assert.equal(find("body", ["anything", "at_all"]).name, "body");
    assertApiError(() => find("body", ["anything"], false), 404, "PGRST202");
  });
});

Deno.test("authenticate() checks tokens like PostgREST", async (t) => {
  const secret = new TextEncoder().encode(JWT_SECRET);
  const now = new Date("2030-01-01T00:00:00Z");
  const sec = now.getTime() / 1000;
  const auth = (token: string | null) =>
    authenticate(new Headers(token === null ? {} : { Authorization: `Bearer ${token}` }), {
      secret,
      anonRole: "anon",
      now,
    });
  const rejects = async (token: string, code: string, message: string) => {
    await assert.rejects(auth(token), (e) => e instanceof ApiError && e.code === code && e.message === message);
  };

  await t.step("no token → anon", async () => {
    assert.deepEqual(await auth(null), { role: "anon", claims: { role: "anon" } });
  });
  await t.step("bearer scheme is case-insensitive; apikey is the fallback", () => {
    assert.equal(bearerToken(new Headers({ Authorization: "bearer abc" })), "abc");
    assert.equal(bearerToken(new Headers({ apikey: "k" })), "k");
    assert.equal(bearerToken(new Headers({ Authorization: "Basic x", apikey: "k" })), "k");
  });
  await t.step("claim checks with 30 s of skew", async () => {
    assert.equal((await auth(await signToken({ role: "r", exp: sec - 29 }))).role, "r");
    await rejects(await signToken({ exp: sec - 31 }), "PGRST303", "JWT expired");
    await rejects(await signToken({ nbf: sec + 31 }), "PGRST303", "JWT not yet valid");
    await rejects(await signToken({ iat: sec + 31 }), "PGRST303", "JWT issued at future");
    await rejects(await signToken({ exp: "soon" }), "PGRST303", "The JWT 'exp' claim must be a number");
    await rejects(
      await signToken({ aud: 5 }),
      "PGRST303",
      "The JWT 'aud' claim must be a string or an array of strings",
    );
  });
  await t.step("decode failures → PGRST301", async () => {
    await rejects("a.b", "PGRST301", "Expected 3 parts in JWT; got 2");
    await rejects(
      await signToken({ role: "x" }, "wrong-secret-wrong-secret-wrong-secret"),
      "PGRST301",
      "No suitable key or wrong key type",
    );
    await rejects("a.b.c", "PGRST301", "JWT cryptographic operation failed");
  });
  await t.step("HS384/HS512 are accepted like HS256", async () => {
    assert.equal((await auth(await signToken({ role: "r" }, JWT_SECRET, "HS512"))).role, "r");
  });
});

Deno.test("withTransactionRetry() re-runs only 40001/40P01, a bounded number of times", async () => {
  const noWait = { backoff: () => Promise.resolve() };
  let calls = 0;
  const result = await withTransactionRetry(() => {
    calls++;
    if (calls < 3) throw new SqlError(calls === 1 ? "40001" : "40P01", "conflict", null, null);
    return Promise.resolve("done");
  }, noWait);
  assert.deepEqual([result, calls], ["done", 3]);

  calls = 0;
  await assert.rejects(
    withTransactionRetry(() => {
      calls++;
      throw new SqlError("40001", "conflict", null, null);
    }, { ...noWait, maxAttempts: 4 }),
    (e) => e instanceof SqlError && e.code === "40001",
  );
  assert.equal(calls, 4);

  calls = 0;
  await assert.rejects(
    withTransactionRetry(() => {
      calls++;
      throw new SqlError("23505", "duplicate", null, null);
    }, noWait),
  );
  assert.equal(calls, 1);
});
