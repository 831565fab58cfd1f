/**
 * Shared setup of the RPC gateway conformance tests: a bootstrapped database
 * (real Postgres through test_db, or PGlite), the SQL functions the checklist
 * needs, the gateway served on a free port, signed keys and supabase-js
 * clients.
 *
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { SignJWT } from "jose";
import { migrate } from "../../src/db/migrate.ts";
import { openPGlite, type SqlClient } from "../../src/db/sql_client.ts";
import { type ServedRpcGateway, serveRpcGateway } from "../../src/local/rpc_gateway.ts";
import { createTestDatabase } from "../support/test_db.ts";

/** The JWT secret of the tests (GoTrue's local default length). */
export const JWT_SECRET = "test-only-jwt-secret-with-at-least-32-characters";

/** `sub` of the authenticated user's token. */
export const USER_ID = "6f1d6c43-5d33-4d3e-9a59-0f6f8e4b2a11";

/** Functions and tables every area uses, in schema public (plus `api` for profiles). */
export const FIXTURE_SQL = `
create type pair as (a int, b text);
create table ledger (id bigserial primary key, note text not null unique);
create sequence flaky_seq;
create sequence deadlock_seq;
create sequence always_seq;
create sequence stable_seq;

-- Choosing the function
create function add(a int, b int default 10) returns int language sql as $$ select a + b $$;
create function echo_json(json) returns json language sql as $$ select $1 $$;
create function overloaded(x int) returns text language sql as $$ select 'int' $$;
create function overloaded(x text) returns text language sql as $$ select 'text' $$;
create function sum_array(xs int[]) returns int language sql as $$ select sum(x)::int from unnest(xs) x $$;
create function sum_variadic(variadic xs int[]) returns int language sql as $$ select sum(x)::int from unnest(xs) x $$;
create function greet(name text, greeting text default 'Hello') returns text language sql
  as $$ select greeting || ', ' || name $$;

-- Response shapes
create function big_number() returns int8 language sql as $$ select 9007199254740993::int8 $$;
create function exact_numeric() returns numeric language sql as $$ select 12345678901234567890.123456789 $$;
create function text_value() returns text language sql as $$ select 'héllo "quoted"' $$;
create function as_json() returns json language sql as $$ select '{"b": 1,   "a": [1, 2]}'::json $$;
create function as_jsonb() returns jsonb language sql as $$ select '{"b": 1, "a": 9007199254740993}'::jsonb $$;
create function null_scalar() returns int language sql as $$ select null::int $$;
create function one_pair() returns pair language sql as $$ select 1, 'x' $$;
create function null_pair() returns pair language plpgsql as $$ begin return null; end $$;
create function pairs() returns setof pair language sql as $$ select 1, 'x' union all select 2, 'y' $$;
create function numbers(n int) returns setof int language sql as $$ select generate_series(1, n) $$;
create function table_rows() returns table (id int, label text) language sql
  as $$ select 1, 'one' union all select 2, 'two' $$;
create function do_nothing() returns void language sql as $$ select $$;

-- Writes and transactions
create function record_note(note text) returns bigint language sql
  as $$ insert into ledger (note) values (note) returning id $$;
create function record_notes(prefix text, n int) returns setof bigint language sql
  as $$ insert into ledger (note) select prefix || i from generate_series(1, n) i returning id $$;
create function stable_nextval() returns bigint stable language sql as $$ select nextval('stable_seq') $$;
create function tx_state() returns json language sql volatile as $$
  select json_build_object('read_only', current_setting('transaction_read_only'),
                           'isolation', current_setting('transaction_isolation')) $$;
create function tx_state_stable() returns json language sql stable as $$
  select json_build_object('read_only', current_setting('transaction_read_only'),
                           'isolation', current_setting('transaction_isolation')) $$;
create function flaky_once() returns bigint language plpgsql as $$
declare n bigint := nextval('flaky_seq');
begin
  insert into ledger (note) values ('flaky attempt ' || n);
  if n = 1 then
    raise exception using errcode = 'serialization_failure', message = 'could not serialize access';
  end if;
  return n;
end $$;
create function deadlock_once() returns bigint language plpgsql as $$
declare n bigint := nextval('deadlock_seq');
begin
  if n = 1 then raise exception using errcode = 'deadlock_detected', message = 'deadlock detected'; end if;
  return n;
end $$;
create function always_conflict() returns void language plpgsql as $$
begin
  perform nextval('always_seq');
  raise exception using errcode = 'serialization_failure', message = 'could not serialize access';
end $$;
create function custom_response() returns json language plpgsql as $$
begin
  perform set_config('response.status', '201', true);
  perform set_config('response.headers', '[{"Location": "/payments/1"}, {"Content-Range": "custom"}]', true);
  return '{"created": true}';
end $$;
create function bad_status() returns int language plpgsql as $$
begin perform set_config('response.status', 'abc', true); return 1; end $$;

-- Settings and auth
create function request_context() returns json language sql stable as $$
  select json_build_object(
    'role', current_user,
    'uid', auth.uid(),
    'search_path', current_setting('search_path'),
    'claims', current_setting('request.jwt.claims', true)::json,
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'headers', current_setting('request.headers', true)::json,
    'cookies', current_setting('request.cookies', true)::json) $$;
create function admin_only() returns text language sql as $$ select 'secret' $$;
revoke execute on function admin_only() from public, anon, authenticated;
grant execute on function admin_only() to service_role;

-- Errors
create function pay_first() returns void language plpgsql as $$
begin
  raise sqlstate 'PT402' using message = 'Payment required', detail = 'Top up first', hint = 'Call initialize';
end $$;
create function plain_raise() returns void language plpgsql as $$ begin raise exception 'boom'; end $$;
create function no_data() returns void language plpgsql as $$ begin raise sqlstate 'P0002'; end $$;
create function duplicate_note() returns void language sql as $$
  insert into ledger (note) values ('dup'), ('dup') $$;
create function raise_pgrst() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using
    message = '{"code": "PAY01", "message": "Card declined", "details": "Insufficient funds", "hint": "Try another card"}',
    detail = '{"status": 402, "headers": {"X-Decline-Reason": "funds"}}';
end $$;

-- Profiles
create schema api;
grant usage on schema api to anon, authenticated, service_role;
create function api.whoami() returns text language sql as $$ select 'api' $$;
grant execute on function api.whoami() to anon, authenticated, service_role;
`;

/** Keys and tokens signed with {@linkcode JWT_SECRET}. */
export interface Keys {
  anon: string;
  serviceRole: string;
  /** An authenticated user's session token (`sub` = {@linkcode USER_ID}). */
  user: string;
}

/** A running gateway with its database and clients. */
export interface Fixture {
  engine: "postgres" | "pglite";
  db: SqlClient;
  served: ServedRpcGateway;
  url: string;
  keys: Keys;
  /** supabase-js with the service_role key. */
  service: SupabaseClient;
  /** supabase-js with the anon key. */
  anon: SupabaseClient;
  /** supabase-js with the anon key and a signed-in user's token. */
  user: SupabaseClient;
  /** Raw request to `/rest/v1/rpc/<fn>` (or any path starting with `/`). */
  request(pathOrFn: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Signs a token with the test secret. */
export function signToken(claims: Record<string, unknown>, secret = JWT_SECRET, alg = "HS256"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

/** Starts a gateway on a fresh, bootstrapped database with {@linkcode FIXTURE_SQL}. */
export async function startFixture(engine: "postgres" | "pglite" = "postgres"): Promise<Fixture> {
  const { db, dispose } = engine === "postgres" ? await _postgres() : await _pglite();
  try {
    await migrate(db, { migrations: [] });
    await db.exec(FIXTURE_SQL);
    const served = await serveRpcGateway({ db, jwtSecret: JWT_SECRET, port: 0 });
    const now = Math.floor(Date.now() / 1000);
    const keys: Keys = {
      anon: await signToken({ role: "anon", iss: "supabase-demo" }),
      serviceRole: await signToken({ role: "service_role", iss: "supabase-demo" }),
      user: await signToken({ sub: USER_ID, role: "authenticated", aud: "authenticated", iat: now, exp: now + 3600 }),
    };
    const client = (key: string, token = key) =>
      createClient(served.url, key, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        global: { headers: { Authorization: `Bearer ${token}` } },
      });
    return {
      engine,
      db,
      served,
      url: served.url,
      keys,
      service: client(keys.serviceRole),
      anon: client(keys.anon),
      user: client(keys.anon, keys.user),
      request: (pathOrFn, init) =>
        fetch(`${served.url}${pathOrFn.startsWith("/") ? pathOrFn : `/rest/v1/rpc/${pathOrFn}`}`, init),
      async close() {
        await served.close();
        await dispose();
      },
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function _postgres() {
  const t = await createTestDatabase({ migrated: false });
  // The tests connect to Postgres as root; on the PGlite fallback (whose
  // superuser is postgres) the role exists too, so role tests mean the same.
  if (t.engine === "pglite") await t.db.exec("create role root superuser");
  return { db: t.db, dispose: () => t.close() };
}

async function _pglite() {
  const db = await openPGlite();
  return { db, dispose: () => db.close() };
}

/** A JSON POST. */
export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "application/json", ...headers },
  };
}
