/**
 * Conformance of the local RPC gateway with `reference/postgrest-rpc.md`:
 * one test per area of the reference, one step per checklist item, driven
 * with raw HTTP and through supabase-js `.rpc()`.
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { type Fixture, JWT_SECRET, postJson, signToken, startFixture, USER_ID } from "./rpc_gateway_fixture.ts";
import { serveRpcGateway } from "../../src/local/rpc_gateway.ts";

const JSON_TYPE = "application/json; charset=utf-8";

/** Asserts a PostgREST error: status, content type, then the exact body shape. */
async function assertError(
  res: Response,
  status: number,
  code: string,
): Promise<{ code: string; message: string; details: string | null; hint: string | null }> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get("content-type"), JSON_TYPE);
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body).sort(), ["code", "details", "hint", "message"]);
  assert.equal(body.code, code);
  return body;
}

/** Asserts a 200 JSON answer and returns the raw body text. */
async function assertOk(res: Response, contentType = JSON_TYPE): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(res.headers.get("content-type"), contentType);
  return text;
}

async function withFixture(engine: "postgres" | "pglite", run: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await startFixture(engine);
  try {
    await run(f);
  } finally {
    await f.close();
  }
}

async function count(f: Fixture, sql: string): Promise<number> {
  const [row] = await f.db.query<{ n: number }>(`select (${sql})::int as n`);
  return row!.n;
}

Deno.test("RPC gateway: routing and verbs", (t) =>
  withFixture("postgres", async (f) => {
    await t.step("POST takes a JSON object of named arguments", async () => {
      assert.equal(await assertOk(await f.request("add", postJson({ a: 1, b: 2 }))), "3");
      const { data, error, status } = await f.service.rpc("add", { a: 1, b: 2 });
      assert.equal(error, null);
      assert.equal(status, 200);
      assert.equal(data, 3);
    });

    await t.step("an empty POST body counts as {}", async () => {
      assert.equal(await assertOk(await f.request("big_number", { method: "POST" })), "9007199254740993");
      const res = await f.request("add", { method: "POST" });
      const body = await assertError(res, 404, "PGRST202");
      assert.equal(body.message, "Could not find the function public.add without parameters in the schema cache");
    });

    await t.step("invalid JSON is 400 PGRST102", async () => {
      const body = await assertError(await f.request("add", postJson("{not json")), 400, "PGRST102");
      assert.equal(body.message, "Empty or invalid json");
    });

    await t.step("GET passes arguments as query parameters cast to the parameter types", async () => {
      assert.equal(await assertOk(await f.request("add?a=40&b=2")), "42");
      assert.equal(await assertOk(await f.request("greet?name=J%C3%BCrgen+M")), '"Hello, Jürgen M"');
      const { data, error } = await f.anon.rpc("add", { a: 5 }, { get: true });
      assert.equal(error, null);
      assert.equal(data, 15);
    });

    await t.step("GET arrays as {a,b}, the way supabase-js sends them", async () => {
      assert.equal(await assertOk(await f.request(`sum_array?xs=${encodeURIComponent("{1,2,3}")}`)), "6");
      const { data, error } = await f.anon.rpc("sum_array", { xs: [4, 5, 6] }, { get: true });
      assert.equal(error, null);
      assert.equal(data, 15);
    });

    await t.step("a VARIADIC parameter takes repeated GET parameters or a POST array", async () => {
      assert.equal(await assertOk(await f.request("sum_variadic?xs=1&xs=2&xs=5")), "8");
      assert.equal(await assertOk(await f.request("sum_variadic", postJson({ xs: [1, 2] }))), "3");
    });

    await t.step("HEAD runs the call and answers headers without a body", async () => {
      const res = await f.request("numbers?n=3", { method: "HEAD", headers: { Prefer: "count=exact" } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), JSON_TYPE);
      assert.equal(res.headers.get("content-range"), "0-2/3");
      assert.equal(await res.text(), "");
      const { data, count, error } = await f.anon.rpc("numbers", { n: 4 }, { head: true, count: "exact" });
      assert.equal(error, null);
      assert.equal(data, null);
      assert.equal(count, 4);
    });

    for (const method of ["PUT", "PATCH", "DELETE", "OPTIONS"]) {
      await t.step(`${method} is 405 PGRST101`, async () => {
        const body = await assertError(await f.request("add", { method }), 405, "PGRST101");
        assert.equal(body.message, `Cannot use the ${method} method on RPC`);
      });
    }

    await t.step("any other path is 404 with a PostgREST JSON body", async () => {
      for (const path of ["/rest/v1/ledger", "/rest/v1/rpc/add/extra", "/", "/rpc/add"]) {
        const body = await assertError(await f.request(path), 404, "PGRST125");
        assert.equal(body.message, "Invalid path specified in request URL");
      }
    });

    await t.step("filters, select and paging on RPC results are refused, not ignored", async () => {
      const body = await assertError(await f.request("numbers?n=3&limit=1"), 400, "PGRST127");
      assert.match(body.details!, /limit/);
      await assertError(await f.request("numbers?n=3&select=a"), 400, "PGRST127");
      await assertError(await f.request("pairs?a=eq.1"), 400, "PGRST127");
      assert.equal(await assertOk(await f.request("numbers?n=2&select=*")), "[1, 2]");
    });

    await t.step("non-JSON request bodies are 400 PGRST102", async () => {
      const res = await f.request("add", { method: "POST", body: "a=1", headers: { "Content-Type": "text/plain" } });
      const body = await assertError(res, 400, "PGRST102");
      assert.equal(body.message, "Content-Type not acceptable: text/plain");
    });
  }));

Deno.test("RPC gateway: choosing the function", (t) =>
  withFixture("postgres", async (f) => {
    await t.step("SQL defaults apply to arguments not sent", async () => {
      assert.equal(await assertOk(await f.request("add", postJson({ a: 1 }))), "11");
      assert.equal(await assertOk(await f.request("greet", postJson({ name: "Ada" }))), '"Hello, Ada"');
      assert.equal(await assertOk(await f.request("greet", postJson({ name: "Ada", greeting: "Hi" }))), '"Hi, Ada"');
    });

    await t.step("a missing required argument is 404 PGRST202", async () => {
      const body = await assertError(await f.request("add", postJson({ b: 1 })), 404, "PGRST202");
      assert.equal(body.message, "Could not find the function public.add(b) in the schema cache");
    });

    await t.step("an unknown key is a mismatch: 404 PGRST202 with the keys sorted", async () => {
      const body = await assertError(await f.request("add", postJson({ z: 1, a: 1 })), 404, "PGRST202");
      assert.equal(body.message, "Could not find the function public.add(a, z) in the schema cache");
      assert.equal(
        body.details,
        "Searched for the function public.add with parameters a, z or with a single unnamed json/jsonb parameter, " +
          "but no matches were found in the schema cache.",
      );
      assert.equal(body.hint, "Perhaps you meant to call the function public.add(a, b)");
      const { data, error, status } = await f.service.rpc("add", { a: 1, z: 1 });
      assert.equal(status, 404);
      assert.equal(data, null);
      assert.equal(error?.code, "PGRST202");
      assert.equal(error?.message, "Could not find the function public.add(a, z) in the schema cache");
    });

    await t.step("an unknown function gets a 404 PGRST202 (and a suggestion when one is close)", async () => {
      const body = await assertError(await f.request("numbrs", postJson({ n: 1 })), 404, "PGRST202");
      assert.equal(body.message, "Could not find the function public.numbrs(n) in the schema cache");
      assert.equal(body.hint, "Perhaps you meant to call the function public.numbers");
      const get = await assertError(await f.request("missing_fn?x=1"), 404, "PGRST202");
      assert.equal(
        get.details,
        "Searched for the function public.missing_fn with parameter x, but no matches were found in the schema cache.",
      );
      assert.equal(get.hint, null);
    });

    await t.step("a single unnamed json parameter receives the whole POST body", async () => {
      const body = '{"any": [1, 2, 3], "nested": {"x": 9007199254740993}}';
      assert.equal(await assertOk(await f.request("echo_json", postJson(body))), body);
      const { data, error } = await f.service.rpc("echo_json", { whatever: "goes" });
      assert.equal(error, null);
      assert.deepEqual(data, { whatever: "goes" });
    });

    await t.step("the unnamed json fallback is for POST only", async () => {
      await assertError(await f.request("echo_json?x=1"), 404, "PGRST202");
    });

    await t.step("several matching overloads are 300 PGRST203", async () => {
      const body = await assertError(await f.request("overloaded", postJson({ x: 1 })), 300, "PGRST203");
      assert.equal(
        body.message,
        "Could not choose the best candidate function between: public.overloaded(x => integer), " +
          "public.overloaded(x => text)",
      );
      assert.equal(
        body.hint,
        "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
      );
      const { error, status } = await f.service.rpc("overloaded", { x: "a" });
      assert.equal(status, 300);
      assert.equal(error?.code, "PGRST203");
    });

    await t.step("POST values are typed through the record (bad input is Postgres' 22P02, 400)", async () => {
      const body = await assertError(await f.request("add", postJson({ a: "not a number" })), 400, "22P02");
      assert.match(body.message, /invalid input syntax for type integer/);
    });
  }));

Deno.test("RPC gateway: response shapes", (t) =>
  withFixture("postgres", async (f) => {
    await t.step("a scalar is the bare JSON value; int8 and numeric keep every digit", async () => {
      assert.equal(await assertOk(await f.request("big_number", postJson({}))), "9007199254740993");
      assert.equal(await assertOk(await f.request("exact_numeric", postJson({}))), "12345678901234567890.123456789");
      assert.equal(await assertOk(await f.request("text_value", postJson({}))), '"héllo \\"quoted\\""');
      const { data } = await f.service.rpc("text_value");
      assert.equal(data, 'héllo "quoted"');
    });

    await t.step("json and jsonb pass through, not re-encoded as strings", async () => {
      assert.equal(await assertOk(await f.request("as_json", postJson({}))), '{"b": 1,   "a": [1, 2]}');
      assert.equal(await assertOk(await f.request("as_jsonb", postJson({}))), '{"a": 9007199254740993, "b": 1}');
      const { data } = await f.service.rpc("as_json");
      assert.deepEqual(data, { b: 1, a: [1, 2] });
    });

    await t.step("SQL NULL from a scalar function is null", async () => {
      assert.equal(await assertOk(await f.request("null_scalar", postJson({}))), "null");
      const { data, error, status } = await f.service.rpc("null_scalar");
      assert.equal(error, null);
      assert.equal(status, 200);
      assert.equal(data, null);
    });

    await t.step("one composite is an object", async () => {
      assert.equal(await assertOk(await f.request("one_pair", postJson({}))), '{"a":1,"b":"x"}');
      const { data } = await f.service.rpc("one_pair");
      assert.deepEqual(data, { a: 1, b: "x" });
    });

    await t.step("a NULL composite is PostgREST's all-null object, not null", async () => {
      // PostgREST calls a composite function in FROM, where a NULL composite is one all-null row.
      assert.equal(await assertOk(await f.request("null_pair", postJson({}))), '{"a":null,"b":null}');
      const { data } = await f.service.rpc("null_pair");
      assert.deepEqual(data, { a: null, b: null });
    });

    await t.step("a POST array body calls the function with its first object, as PostgREST does", async () => {
      assert.equal(await assertOk(await f.request("add", postJson([{ a: 1 }, { a: 5 }]))), "11");
      await assertError(await f.request("add", postJson([{ a: 1 }, { b: 5 }])), 400, "PGRST102");
    });

    await t.step("SETOF scalar, SETOF composite and TABLE are arrays", async () => {
      assert.deepEqual(JSON.parse(await assertOk(await f.request("numbers", postJson({ n: 3 })))), [1, 2, 3]);
      assert.deepEqual(JSON.parse(await assertOk(await f.request("pairs", postJson({})))), [
        { a: 1, b: "x" },
        { a: 2, b: "y" },
      ]);
      const { data } = await f.service.rpc("table_rows");
      assert.deepEqual(data, [{ id: 1, label: "one" }, { id: 2, label: "two" }]);
    });

    await t.step("an empty set is []", async () => {
      assert.equal(await assertOk(await f.request("numbers", postJson({ n: 0 }))), "[]");
    });

    await t.step("void is 204 with an empty body and no Content-Type", async () => {
      const res = await f.request("do_nothing", postJson({}));
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("content-type"), null);
      assert.equal(await res.text(), "");
      const { data, error, status } = await f.service.rpc("do_nothing");
      assert.equal(error, null);
      assert.equal(status, 204);
      assert.equal(data, null);
    });

    const object = { Accept: "application/vnd.pgrst.object+json" };
    const objectType = "application/vnd.pgrst.object+json; charset=utf-8";

    await t.step("Accept: application/vnd.pgrst.object+json with one row gives that row as an object", async () => {
      assert.equal(await assertOk(await f.request("numbers", postJson({ n: 1 }, object)), objectType), "1");
      assert.equal(await assertOk(await f.request("one_pair", postJson({}, object)), objectType), '{"a":1,"b":"x"}');
      const { data, error } = await f.service.rpc("numbers", { n: 1 }).single();
      assert.equal(error, null);
      assert.equal(data, 1);
    });

    await t.step("…and anything else is 406 PGRST116, with the write rolled back", async () => {
      const res = await f.request("record_notes", postJson({ prefix: "single-", n: 2 }, object));
      const body = await assertError(res, 406, "PGRST116");
      assert.equal(body.message, "Cannot coerce the result to a single JSON object");
      assert.equal(body.details, "The result contains 2 rows");
      assert.equal(await count(f, "select count(*) from ledger where note like 'single-%'"), 0);
      // The same call with one row commits: the check above can fail.
      await assertOk(await f.request("record_notes", postJson({ prefix: "single-", n: 1 }, object)), objectType);
      assert.equal(await count(f, "select count(*) from ledger where note like 'single-%'"), 1);
      const zero = await assertError(await f.request("numbers", postJson({ n: 0 }, object)), 406, "PGRST116");
      assert.equal(zero.details, "The result contains 0 rows");
      const { error, status } = await f.service.rpc("record_notes", { prefix: "js-", n: 3 }).single();
      assert.equal(status, 406);
      assert.equal(error?.code, "PGRST116");
      assert.equal(error?.details, "The result contains 3 rows");
      assert.equal(await count(f, "select count(*) from ledger where note like 'js-%'"), 0);
    });

    await t.step("nulls=stripped drops null keys", async () => {
      const res = await f.request(
        "null_pair",
        postJson({}, { Accept: "application/vnd.pgrst.object+json;nulls=stripped" }),
      );
      assert.equal(await assertOk(res, "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8"), "{}");
    });

    await t.step("an Accept the gateway cannot produce is 406 PGRST107", async () => {
      const body = await assertError(
        await f.request("numbers", postJson({ n: 1 }, { Accept: "text/csv" })),
        406,
        "PGRST107",
      );
      assert.equal(body.message, "None of these media types are available: text/csv");
    });

    await t.step("Content-Range is 0-(N-1)/* without a count", async () => {
      const res = await f.request("numbers", postJson({ n: 3 }));
      await assertOk(res);
      assert.equal(res.headers.get("content-range"), "0-2/*");
      const scalar = await f.request("big_number", postJson({}));
      await scalar.text();
      assert.equal(scalar.headers.get("content-range"), "0-0/*");
    });

    await t.step("Prefer: count=exact gives Content-Range 0-(N-1)/N, */0 when empty", async () => {
      const res = await f.request("numbers", postJson({ n: 3 }, { Prefer: "count=exact" }));
      await assertOk(res);
      assert.equal(res.headers.get("content-range"), "0-2/3");
      assert.equal(res.headers.get("preference-applied"), "count=exact");
      const empty = await f.request("numbers", postJson({ n: 0 }, { Prefer: "count=exact" }));
      assert.equal(await assertOk(empty), "[]");
      assert.equal(empty.headers.get("content-range"), "*/0");
      const { data, count: total } = await f.service.rpc("numbers", { n: 5 }, { count: "exact" });
      assert.deepEqual(data, [1, 2, 3, 4, 5]);
      assert.equal(total, 5);
    });

    await t.step("Prefer: return= is ignored for RPC", async () => {
      const res = await f.request("numbers", postJson({ n: 2 }, { Prefer: "return=minimal" }));
      assert.equal(await assertOk(res), "[1, 2]");
    });
  }));

Deno.test("RPC gateway: auth and per-request settings", (t) =>
  withFixture("postgres", async (f) => {
    type Context = {
      role: string;
      uid: string | null;
      search_path: string;
      claims: Record<string, unknown>;
      method: string;
      path: string;
      headers: Record<string, string>;
      cookies: Record<string, string>;
    };
    const context = async (init: RequestInit = { method: "POST" }, query = ""): Promise<Context> =>
      JSON.parse(await assertOk(await f.request(`request_context${query}`, init)));

    await t.step("no token runs as anon, with claims {role: anon}", async () => {
      const ctx = await context();
      assert.equal(ctx.role, "anon");
      assert.equal(ctx.uid, null);
      assert.deepEqual(ctx.claims, { role: "anon" });
    });

    await t.step("the role claim is the database role (service_role key)", async () => {
      const { data, error } = await f.service.rpc("request_context");
      assert.equal(error, null);
      assert.equal((data as Context).role, "service_role");
    });

    await t.step("an authenticated user's token: auth.uid() and the claims are visible in SQL", async () => {
      const { data, error } = await f.user.rpc("request_context");
      assert.equal(error, null);
      const ctx = data as Context;
      assert.equal(ctx.role, "authenticated");
      assert.equal(ctx.uid, USER_ID);
      assert.equal(ctx.claims.sub, USER_ID);
      assert.equal(ctx.claims.role, "authenticated");
      assert.equal(ctx.claims.aud, "authenticated");
    });

    await t.step("without a Bearer token the apikey header is the token", async () => {
      const ctx = await context({ method: "POST", headers: { apikey: f.keys.user } });
      assert.equal(ctx.role, "authenticated");
      assert.equal(ctx.uid, USER_ID);
      const preferred = await context({
        method: "POST",
        headers: { apikey: "not-a-jwt", Authorization: `Bearer ${f.keys.serviceRole}` },
      });
      assert.equal(preferred.role, "service_role");
    });

    await t.step("a token without a role claim runs as anon", async () => {
      const token = await signToken({ sub: USER_ID });
      const ctx = await context({ method: "POST", headers: { Authorization: `Bearer ${token}` } });
      assert.equal(ctx.role, "anon");
      assert.equal(ctx.uid, USER_ID);
      assert.equal(ctx.claims.role, "anon");
    });

    const invalidToken = (description: string) => `Bearer error="invalid_token", error_description="${description}"`;

    await t.step("a badly signed token is 401 PGRST301 with WWW-Authenticate", async () => {
      const forged = await signToken({ role: "service_role" }, "another-secret-that-is-long-enough-to-sign");
      const res = await f.request("request_context", {
        method: "POST",
        headers: { Authorization: `Bearer ${forged}` },
      });
      const body = await assertError(res, 401, "PGRST301");
      assert.equal(body.message, "No suitable key or wrong key type");
      assert.equal(res.headers.get("www-authenticate"), invalidToken("No suitable key or wrong key type"));
      const { error, status } = await f.anon.rpc("request_context").setHeader("Authorization", `Bearer ${forged}`);
      assert.equal(status, 401);
      assert.equal(error?.code, "PGRST301");
    });

    await t.step("a token that is not a JWT is 401 PGRST301", async () => {
      const res = await f.request("request_context", { method: "POST", headers: { Authorization: "Bearer abc.def" } });
      const body = await assertError(res, 401, "PGRST301");
      assert.equal(body.message, "Expected 3 parts in JWT; got 2");
      assert.equal(res.headers.get("www-authenticate"), invalidToken("Expected 3 parts in JWT; got 2"));
    });

    await t.step("an expired token is 401 PGRST303 with WWW-Authenticate", async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await signToken({ role: "authenticated", sub: USER_ID, exp: now - 3600 });
      const res = await f.request("request_context", {
        method: "POST",
        headers: { Authorization: `Bearer ${expired}` },
      });
      const body = await assertError(res, 401, "PGRST303");
      assert.equal(body.message, "JWT expired");
      assert.equal(res.headers.get("www-authenticate"), invalidToken("JWT expired"));
      const { error, status } = await f.anon.rpc("request_context").setHeader("Authorization", `Bearer ${expired}`);
      assert.equal(status, 401);
      assert.equal(error?.message, "JWT expired");
    });

    await t.step("PostgREST's 30 s clock skew: just expired still passes, nbf in the future fails", async () => {
      const now = Math.floor(Date.now() / 1000);
      const justExpired = await signToken({ role: "authenticated", sub: USER_ID, exp: now - 5 });
      assert.equal(
        (await context({ method: "POST", headers: { Authorization: `Bearer ${justExpired}` } })).role,
        "authenticated",
      );
      const early = await signToken({ role: "authenticated", nbf: now + 600 });
      const res = await f.request("request_context", { method: "POST", headers: { Authorization: `Bearer ${early}` } });
      assert.equal((await assertError(res, 401, "PGRST303")).message, "JWT not yet valid");
    });

    await t.step("settings: search_path, method and path as PostgREST sets them", async () => {
      const post = await context();
      assert.equal(post.search_path, '"public", "public"');
      assert.equal(post.method, "POST");
      assert.equal(post.path, "/rpc/request_context");
      const get = await context({ method: "GET" });
      assert.equal(get.method, "GET");
    });

    await t.step("settings: request.headers has lowercase keys and no cookie; request.cookies is parsed", async () => {
      const ctx = await context({
        method: "POST",
        headers: { "X-Request-Id": "req-42", Cookie: "session=abc; theme=dark", "Content-Type": "application/json" },
      });
      assert.equal(ctx.headers["x-request-id"], "req-42");
      assert.equal(ctx.headers["content-type"], "application/json");
      assert.equal(ctx.headers.cookie, undefined);
      assert.ok(Object.keys(ctx.headers).every((k) => k === k.toLowerCase()));
      assert.deepEqual(ctx.cookies, { session: "abc", theme: "dark" });
    });

    await t.step("settings are transaction-local: a later request does not see them", async () => {
      await context({ method: "POST", headers: { Authorization: `Bearer ${f.keys.user}` } });
      const [row] = await f.db.query<{ claims: string | null; role: string }>(
        "select nullif(current_setting('request.jwt.claims', true), '') as claims, current_user as role",
      );
      assert.equal(row?.claims, null);
      assert.notEqual(row?.role, "authenticated");
    });

    await t.step("Content-Profile / Accept-Profile choose the schema; unknown is 406 PGRST106", async () => {
      const res = await f.request("request_context", { method: "GET", headers: { "Accept-Profile": "public" } });
      await assertOk(res);
      assert.equal(res.headers.get("content-profile"), "public");
      const unknown = await f.request("whoami", { method: "POST", headers: { "Content-Profile": "api" } });
      const body = await assertError(unknown, 406, "PGRST106");
      assert.equal(body.message, "Invalid schema: api");
      assert.equal(body.hint, "Only the following schemas are exposed: public");
      const multi = await serveRpcGateway({ db: f.db, jwtSecret: JWT_SECRET, port: 0, schemas: ["public", "api"] });
      try {
        const viaPost = await fetch(`${multi.url}/rest/v1/rpc/whoami`, {
          method: "POST",
          headers: { "Content-Profile": "api" },
        });
        assert.equal(await assertOk(viaPost), '"api"');
        assert.equal(viaPost.headers.get("content-profile"), "api");
        const viaGet = await fetch(`${multi.url}/rest/v1/rpc/whoami`, { headers: { "Accept-Profile": "api" } });
        assert.equal(await assertOk(viaGet), '"api"');
        // Content-Profile is the POST header: on GET it is not consulted.
        const wrongHeader = await fetch(`${multi.url}/rest/v1/rpc/whoami`, { headers: { "Content-Profile": "api" } });
        await assertError(wrongHeader, 404, "PGRST202");
        const other = await fetch(`${multi.url}/rest/v1/rpc/whoami`, { headers: { "Accept-Profile": "nope" } });
        assert.equal(
          (await assertError(other, 406, "PGRST106")).hint,
          "Only the following schemas are exposed: public, api",
        );
      } finally {
        await multi.close();
      }
    });
  }));

Deno.test("RPC gateway: transactions", (t) =>
  withFixture("postgres", async (f) => {
    type TxState = { read_only: string; isolation: string };

    await t.step("one READ COMMITTED transaction per request", async () => {
      const state: TxState = JSON.parse(await assertOk(await f.request("tx_state", postJson({}))));
      assert.equal(state.isolation, "read committed");
    });

    await t.step("POST to a VOLATILE function runs READ WRITE and commits", async () => {
      const state: TxState = JSON.parse(await assertOk(await f.request("tx_state", postJson({}))));
      assert.equal(state.read_only, "off");
      const { data, error } = await f.service.rpc("record_note", { note: "committed" });
      assert.equal(error, null);
      assert.equal(typeof data, "number");
      assert.equal(await count(f, "select count(*) from ledger where note = 'committed'"), 1);
    });

    await t.step("GET runs READ ONLY: a write is 25006 → 405", async () => {
      const state: TxState = JSON.parse(await assertOk(await f.request("tx_state")));
      assert.equal(state.read_only, "on");
      const body = await assertError(await f.request("record_note?note=via-get"), 405, "25006");
      assert.match(body.message, /read-only transaction/);
      assert.equal(await count(f, "select count(*) from ledger where note = 'via-get'"), 0);
      const { error, status } = await f.service.rpc("record_note", { note: "via-js-get" }, { get: true });
      assert.equal(status, 405);
      assert.equal(error?.code, "25006");
    });

    await t.step("POST to a STABLE function runs READ ONLY: a write is 405", async () => {
      const state: TxState = JSON.parse(await assertOk(await f.request("tx_state_stable", postJson({}))));
      assert.equal(state.read_only, "on");
      await assertError(await f.request("stable_nextval", postJson({})), 405, "25006");
      const [seq] = await f.db.query<{ called: boolean }>("select is_called as called from stable_seq");
      assert.equal(seq?.called, false);
    });

    await t.step("40001 re-runs the whole transaction (the failed attempt is rolled back)", async () => {
      const { data, error, status } = await f.service.rpc("flaky_once");
      assert.equal(error, null);
      assert.equal(status, 200);
      assert.equal(data, 2);
      assert.equal(await count(f, "select count(*) from ledger where note = 'flaky attempt 1'"), 0);
      assert.equal(await count(f, "select count(*) from ledger where note = 'flaky attempt 2'"), 1);
    });

    await t.step("40P01 (deadlock) is retried too", async () => {
      assert.equal(await assertOk(await f.request("deadlock_once", postJson({}))), "2");
    });

    await t.step("retries are bounded: after 3 attempts the 40001 is answered 500", async () => {
      const body = await assertError(await f.request("always_conflict", postJson({})), 500, "40001");
      assert.equal(body.message, "could not serialize access");
      assert.equal(await count(f, "select last_value from always_seq"), 3);
    });

    await t.step("functions set response.status and response.headers", async () => {
      const res = await f.request("custom_response", postJson({}));
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("content-type"), JSON_TYPE);
      assert.equal(res.headers.get("location"), "/payments/1");
      assert.equal(res.headers.get("content-range"), "custom");
      assert.equal(await res.text(), '{"created": true}');
      const { data, status } = await f.service.rpc("custom_response");
      assert.equal(status, 201);
      assert.deepEqual(data, { created: true });
    });

    await t.step("a response.status that is not a status code is 500 PGRST112", async () => {
      const body = await assertError(await f.request("bad_status", postJson({})), 500, "PGRST112");
      assert.equal(body.message, "response.status guc must be a valid status code");
    });

    await t.step("concurrent requests each get their own transaction and role", async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? f.user : f.anon).rpc("request_context")),
      );
      results.forEach(({ data, error }, i) => {
        assert.equal(error, null);
        assert.equal((data as { role: string }).role, i % 2 === 0 ? "authenticated" : "anon");
      });
    });
  }));

Deno.test("RPC gateway: errors", (t) =>
  withFixture("postgres", async (f) => {
    await t.step("PTnnn answers status nnn with code, message, details and hint", async () => {
      const body = await assertError(await f.request("pay_first", postJson({})), 402, "PT402");
      assert.deepEqual(body, {
        code: "PT402",
        message: "Payment required",
        details: "Top up first",
        hint: "Call initialize",
      });
      const { error, status } = await f.service.rpc("pay_first");
      assert.equal(status, 402);
      assert.deepEqual(error, body);
    });

    await t.step("plain RAISE EXCEPTION (P0001) is 400; other P0 codes are 500", async () => {
      const body = await assertError(await f.request("plain_raise", postJson({})), 400, "P0001");
      assert.equal(body.message, "boom");
      assert.equal(body.details, null);
      assert.equal(body.hint, null);
      await assertError(await f.request("no_data", postJson({})), 500, "P0002");
    });

    await t.step("unique violation is 409", async () => {
      const body = await assertError(await f.request("duplicate_note", postJson({})), 409, "23505");
      assert.match(body.details!, /already exists/);
    });

    await t.step("42501 is 401 with WWW-Authenticate: Bearer for anon, 403 when authenticated", async () => {
      const anon = await f.request("admin_only", postJson({}));
      await assertError(anon, 401, "42501");
      assert.equal(anon.headers.get("www-authenticate"), "Bearer");
      const user = await f.user.rpc("admin_only");
      assert.equal(user.status, 403);
      assert.equal(user.error?.code, "42501");
      const { data, error } = await f.service.rpc("admin_only");
      assert.equal(error, null);
      assert.equal(data, "secret");
    });

    await t.step("RAISE SQLSTATE 'PGRST' controls code, message, status and headers", async () => {
      const res = await f.request("raise_pgrst", postJson({}));
      assert.equal(res.headers.get("x-decline-reason"), "funds");
      const body = await assertError(res, 402, "PAY01");
      assert.deepEqual(body, {
        code: "PAY01",
        message: "Card declined",
        details: "Insufficient funds",
        hint: "Try another card",
      });
    });

    await t.step("a 404 always has a JSON body, so supabase-js reports an error, never 204", async () => {
      const { data, error, status } = await f.anon.rpc("no_such_function");
      assert.equal(status, 404);
      assert.equal(data, null);
      assert.equal(error?.code, "PGRST202");
    });

    await t.step("an unknown JWT role is 401 (22023), the request never runs", async () => {
      const token = await signToken({ role: "no_such_role" });
      const res = await f.request("request_context", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      const body = await assertError(res, 401, "22023");
      assert.equal(body.message, 'role "no_such_role" does not exist');
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
    });

    await t.step(
      "a signed token naming a role not granted to the authenticator (root, postgres) is 403 42501",
      async () => {
        const before = await count(f, "select count(*) from ledger");
        for (const role of ["root", "postgres", "authenticator"]) {
          const token = await signToken({ role, sub: USER_ID });
          const headers = { Authorization: `Bearer ${token}` };
          // What Postgres answers PostgREST's authenticator, body for body (PostgREST issue #2779).
          for (
            const res of [
              await f.request("request_context", { method: "POST", headers }),
              await f.request("request_context", { headers }),
            ]
          ) {
            assert.equal(res.headers.get("www-authenticate"), null);
            assert.deepEqual(await assertError(res, 403, "42501"), {
              code: "42501",
              message: `permission denied to set role "${role}"`,
              details: null,
              hint: null,
            });
          }
          // The function never runs: a write as that role does not land.
          await assertError(await f.request("record_note", postJson({ note: `as ${role}` }, headers)), 403, "42501");
          // Through supabase-js, with the token as the apikey too.
          const client = createClient(f.url, token, {
            auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
          });
          const { data, error, status } = await client.rpc("request_context");
          assert.equal(status, 403);
          assert.equal(data, null);
          assert.equal(error?.code, "42501");
          assert.equal(error?.message, `permission denied to set role "${role}"`);
          const apikeyOnly = await f.request("request_context", { method: "POST", headers: { apikey: token } });
          await assertError(apikeyOnly, 403, "42501");
        }
        assert.equal(await count(f, "select count(*) from ledger"), before);
      },
    );

    await t.step("the set of roles is an option; a role left out is refused like any other", async () => {
      const narrow = await serveRpcGateway({
        db: f.db,
        jwtSecret: JWT_SECRET,
        port: 0,
        allowedRoles: ["anon", "authenticated"],
      });
      try {
        const call = (token: string) =>
          fetch(`${narrow.url}/rest/v1/rpc/request_context`, {
            method: "POST",
            headers: { Authorization: `Bearer ${token}` },
          });
        const service = await assertError(await call(f.keys.serviceRole), 403, "42501");
        assert.equal(service.message, 'permission denied to set role "service_role"');
        assert.equal(JSON.parse(await assertOk(await call(f.keys.user))).role, "authenticated");
        const anon = await fetch(`${narrow.url}/rest/v1/rpc/request_context`, { method: "POST" });
        assert.equal(JSON.parse(await assertOk(anon)).role, "anon");
      } finally {
        await narrow.close();
      }
    });
  }));

Deno.test("RPC gateway: schema cache", (t) =>
  withFixture("postgres", async (f) => {
    await t.step("a function created later is unknown until reloadSchemaCache()", async () => {
      await f.db.exec("create function created_later() returns text language sql as $$ select 'new' $$");
      await assertError(await f.request("created_later", postJson({})), 404, "PGRST202");
      await f.served.gateway.reloadSchemaCache();
      assert.equal(await assertOk(await f.request("created_later", postJson({}))), '"new"');
    });

    await t.step("a function dropped without a reload fails in Postgres (42883 → 404)", async () => {
      await f.db.exec("drop function created_later()");
      await assertError(await f.request("created_later", postJson({})), 404, "42883");
    });
  }));

Deno.test("RPC gateway: PGlite engine", (t) =>
  withFixture("pglite", async (f) => {
    assert.equal(f.db.engine, "pglite");

    await t.step("scalar, defaults and GET through supabase-js", async () => {
      assert.equal((await f.service.rpc("add", { a: 1 })).data, 11);
      assert.equal((await f.anon.rpc("sum_array", { xs: [1, 2] }, { get: true })).data, 3);
      assert.equal(await assertOk(await f.request("big_number", postJson({}))), "9007199254740993");
    });

    await t.step("role and auth.uid() from the token, set inside the transaction", async () => {
      const { data } = await f.user.rpc("request_context");
      assert.equal((data as { role: string }).role, "authenticated");
      assert.equal((data as { uid: string }).uid, USER_ID);
      const [row] = await f.db.query<{ role: string }>("select current_user as role");
      assert.notEqual(row?.role, "authenticated");
    });

    await t.step("a token naming PGlite's superuser (postgres) is 403 42501, an unknown role 401 22023", async () => {
      const superuser = await signToken({ role: "postgres" });
      const res = await f.request("request_context", postJson({}, { Authorization: `Bearer ${superuser}` }));
      assert.equal((await assertError(res, 403, "42501")).message, 'permission denied to set role "postgres"');
      const unknown = await signToken({ role: "ghost" });
      await assertError(
        await f.request("request_context", postJson({}, { Authorization: `Bearer ${unknown}` })),
        401,
        "22023",
      );
    });

    await t.step("void 204, READ ONLY GET → 405, object Accept 406 with rollback", async () => {
      const res = await f.request("do_nothing", postJson({}));
      assert.equal(res.status, 204);
      assert.equal(await res.text(), "");
      await assertError(await f.request("record_note?note=x"), 405, "25006");
      const one = { Accept: "application/vnd.pgrst.object+json" };
      await assertError(await f.request("record_notes", postJson({ prefix: "p-", n: 2 }, one)), 406, "PGRST116");
      assert.equal(await count(f, "select count(*) from ledger where note like 'p-%'"), 0);
    });

    await t.step("40001 retry and PTnnn", async () => {
      assert.equal(await assertOk(await f.request("flaky_once", postJson({}))), "2");
      await assertError(await f.request("pay_first", postJson({})), 402, "PT402");
    });

    await t.step("concurrent requests queue on the single connection", async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? f.user : f.anon).rpc("request_context")),
      );
      results.forEach(({ data }, i) => assert.equal((data as { role: string }).role, i % 2 ? "anon" : "authenticated"));
    });
  }));
