/**
 * A local stand-in for the RPC part of PostgREST (the v14 line Supabase
 * runs), in front of real Postgres or PGlite, so `@supabase/supabase-js`
 * `.rpc()` works unchanged in development and tests. It serves
 * `POST|GET|HEAD /rest/v1/rpc/:fn`; every item of
 * `reference/postgrest-rpc.md` is reproduced, worded as PostgREST's source
 * words it.
 *
 * Per request, in PostgREST's order: authenticate the JWT (401 PGRST301/303),
 * route (404 PGRST125), choose the schema from the profile headers (406
 * PGRST106), check the verb (405 PGRST101), negotiate `Accept` (406
 * PGRST107), parse the arguments (400 PGRST102), find the function in the
 * schema cache (404 PGRST202, 300 PGRST203), then run one transaction:
 *
 * 1. READ COMMITTED; READ ONLY for GET/HEAD and for POST to a STABLE or
 *    IMMUTABLE function (a write then fails with 25006 → 405);
 * 2. `set_config(…, true)` of `search_path`, `role` (the JWT's `role`
 *    claim, i.e. `SET LOCAL ROLE`), `request.jwt.claims`,
 *    `request.method`, `request.path`, `request.headers`,
 *    `request.cookies` — but only for a role the authenticator may assume
 *    (`allowedRoles`); any other role is refused before anything is set,
 *    with the error Postgres gives PostgREST (see {@linkcode RpcGatewayOptions.allowedRoles});
 * 3. the call, with the JSON rendered by Postgres; with
 *    `Accept: application/vnd.pgrst.object+json` anything but one row rolls
 *    the transaction back and answers 406 PGRST116.
 *
 * Like PostgREST, a composite-returning function is called in FROM, so one
 * that returns a NULL composite answers an all-null object
 * (`{"a":null,"b":null}`), not `null`.
 *
 * Serialization failures (40001) and deadlocks (40P01) re-run the whole
 * transaction, as PostgREST v14 does (v16 answers 500 instead), at most
 * `maxAttempts` times in total with a small jittered pause; after that the
 * error is answered (500).
 *
 * The function catalogue is introspected from `pg_proc` once and cached,
 * like PostgREST's schema cache. A function created or changed afterwards is
 * not seen until {@linkcode RpcGateway.reloadSchemaCache} is called (the
 * equivalent of `NOTIFY pgrst, 'reload schema'`); a missing function is
 * never reloaded implicitly, since PostgREST does not do that either.
 *
 * Not implemented, because supabase-js `.rpc()` does not need them: result
 * filters, `select`, `order`, `limit`/`offset` and `Range` on RPC results
 * (400 PGRST127), non-JSON request bodies (400 PGRST102), CSV/GeoJSON/plan
 * responses (406 PGRST107), `OPTIONS` (405 like any other verb), and the
 * `Prefer: tx=`, `handling=`, `timezone=`, `max-affected=` preferences
 * (ignored). `Prefer: count=planned|estimated` count exactly.
 *
 * @example
 * ```ts
 * const db = connectPostgres(Deno.env.get("DATABASE_URL")!);
 * const served = await serveRpcGateway({ db, jwtSecret, port: 54321 });
 * const supabase = createClient(served.url, serviceRoleKey);
 * const { data, error } = await supabase.rpc("credit_wallet", { p_amount: 500 });
 * await served.close();
 * await db.close();
 * ```
 *
 * @module
 */
import { type SqlClient, SqlError, type SqlSession } from "../db/sql_client.ts";
import {
  ApiError,
  connectionError,
  errorResponse,
  internalError,
  invalidResourcePath,
  invalidRpcMethod,
  schemaCacheUnavailable,
  singularityError,
} from "./rpc_gateway/api_error.ts";
import { type CallRow, callStatement } from "./rpc_gateway/call_statement.ts";
import { apiErrorFromSqlError } from "./rpc_gateway/database_error.ts";
import { findRoutine } from "./rpc_gateway/find_routine.ts";
import { authenticate, type AuthResult } from "./rpc_gateway/jwt_auth.ts";
import { negotiateMedia, type ResponseMedia } from "./rpc_gateway/media_type.ts";
import { parsePreferences } from "./rpc_gateway/prefer_header.ts";
import { requestSettingsStatement } from "./rpc_gateway/request_settings.ts";
import { parseBodyArguments, parseQueryArguments, type RpcArguments } from "./rpc_gateway/rpc_arguments.ts";
import { rpcResponse } from "./rpc_gateway/rpc_response.ts";
import { loadSchemaCache, type Routine, type SchemaCache } from "./rpc_gateway/schema_cache.ts";
import { chooseSchema } from "./rpc_gateway/schema_profile.ts";
import { withTransactionRetry } from "./rpc_gateway/transaction_retry.ts";

/** Options of {@linkcode createRpcGateway}. */
export interface RpcGatewayOptions {
  /** The database; the caller keeps ownership (the gateway never closes it). */
  db: SqlClient;
  /** The JWT secret (HS256/384/512), as GoTrue signs with it. */
  jwtSecret: string;
  /** Exposed schemas; the first is the default. @default ["public"] */
  schemas?: string[];
  /** Schemas appended to each request's search_path. @default ["public"] */
  extraSearchPath?: string[];
  /** Role of requests without a token. @default "anon" */
  anonRole?: string;
  /**
   * The roles a request may run as: the roles granted to PostgREST's
   * `authenticator` (Supabase grants it exactly anon, authenticated and
   * service_role). The gateway itself connects as whatever `db` logs in as
   * (often a superuser), so without this check a validly signed token naming
   * `postgres` or `root` would run as that role. Keep `anonRole` in the set.
   *
   * A role outside the set is answered as PostgREST answers it, because there
   * the refusal comes from Postgres when the authenticator runs
   * `set_config('role', …, true)` (checked against Postgres 15 as a
   * non-superuser authenticator, and PostgREST's `mapSQLtoHTTP` in
   * `src/PostgREST/Error.hs`):
   * - a role that exists but is not granted: SQLSTATE 42501 `permission
   *   denied to set role "<role>"`, details and hint null (PostgREST issue
   *   #2779 shows this body), status 403 (401 with `WWW-Authenticate: Bearer`
   *   would apply only to the anonymous role);
   * - a role that does not exist: SQLSTATE 22023 `role "<role>" does not
   *   exist`, status 401 with `WWW-Authenticate: Bearer` (PostgREST issue
   *   #3601, fixed by PR #4081: "Return 401 for JWT with invalid role").
   * @default ["anon", "authenticated", "service_role"]
   */
  allowedRoles?: readonly string[];
  /** Transaction attempts on 40001/40P01, the first included. @default 3 */
  maxAttempts?: number;
  /** The clock JWT time claims are checked against. @default () => new Date() */
  clock?: () => Date;
}

/** A PostgREST-compatible RPC handler. */
export interface RpcGateway {
  /** Serves one request (`/rest/v1/rpc/:fn`; anything else is 404 PGRST125). */
  fetch(request: Request): Promise<Response>;
  /**
   * Re-reads the function catalogue from `pg_proc`. Call it after creating
   * or replacing functions; until then the previous catalogue is used.
   * @throws {SqlError} when the catalogue cannot be read
   */
  reloadSchemaCache(): Promise<void>;
  /** Refuses new requests (503) and waits for those in flight. Does not close `db`. */
  close(): Promise<void>;
}

/** The roles Supabase grants to `authenticator`. */
const DEFAULT_ALLOWED_ROLES = ["anon", "authenticated", "service_role"] as const;

/** Methods PostgREST accepts on `/rpc/:fn`. */
const RPC_METHODS = new Set(["GET", "HEAD", "POST"]);

/** Supabase's API gateway strips `/rest/v1`; PostgREST sees `/rpc/<fn>`. */
const REST_PREFIX = "/rest/v1";
const RPC_PATH = /^\/rest\/v1\/rpc\/([^/]+)$/;

/**
 * Creates the gateway. The schema cache is loaded on the first request (or
 * by {@linkcode RpcGateway.reloadSchemaCache}).
 *
 * @param options database, JWT secret and the PostgREST settings
 * @returns the gateway
 *
 * @example
 * ```ts
 * const gateway = createRpcGateway({ db, jwtSecret });
 * const res = await gateway.fetch(new Request("http://x/rest/v1/rpc/now", { method: "POST" }));
 * ```
 */
export function createRpcGateway(options: RpcGatewayOptions): RpcGateway {
  const {
    db,
    schemas = ["public"],
    extraSearchPath = ["public"],
    anonRole = "anon",
    maxAttempts = 3,
    clock = () => new Date(),
  } = options;
  const allowedRoles: ReadonlySet<string> = new Set(options.allowedRoles ?? DEFAULT_ALLOWED_ROLES);
  if (schemas.length === 0) throw new TypeError("Cannot create the RPC gateway: no schema is exposed");
  const secret = new TextEncoder().encode(options.jwtSecret);
  let cache: Promise<SchemaCache> | null = null;
  let closed = false;
  const inFlight = new Set<Promise<Response>>();

  const schemaCache = (): Promise<SchemaCache> => {
    cache ??= loadSchemaCache(db, schemas).catch((error) => {
      cache = null; // the next request tries again
      throw error;
    });
    return cache;
  };

  const serve = async (request: Request): Promise<Response> => {
    const head = request.method === "HEAD";
    let authenticated = false; // decides 401 vs 403 for 42501
    try {
      const auth = await authenticate(request.headers, { secret, anonRole, now: clock() });
      authenticated = auth.role !== anonRole;
      const url = new URL(request.url);
      const name = _functionName(url.pathname);
      const { schema, negotiated } = chooseSchema(request.method, request.headers, schemas);
      if (!RPC_METHODS.has(request.method)) throw invalidRpcMethod(request.method);
      const media = negotiateMedia(request.headers.get("accept"));
      const { count } = parsePreferences(request.headers);
      const post = request.method === "POST";
      const query = parseQueryArguments(url.search, !post);
      const args = post ? parseBodyArguments(await request.text(), request.headers.get("content-type")) : query;
      const loaded = await schemaCache().catch(() => Promise.reject(schemaCacheUnavailable()));
      const routine = findRoutine(loaded, { schema, name, keys: args.keys, jsonPost: post });
      const row = await withTransactionRetry(
        () => _runCall({ db, request, auth, allowedRoles, schema, extraSearchPath, routine, args, media }),
        { maxAttempts },
      );
      return rpcResponse({ row, routine, media, head, count, profile: negotiated ? schema : null });
    } catch (error) {
      return errorResponse(_toApiError(error, authenticated), head);
    }
  };

  return {
    fetch(request) {
      if (closed) return Promise.resolve(errorResponse(connectionError("The RPC gateway is closed")));
      const response = serve(request);
      inFlight.add(response);
      return response.finally(() => inFlight.delete(response));
    },
    async reloadSchemaCache() {
      const next = loadSchemaCache(db, schemas);
      await next;
      cache = next;
    },
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Options of {@linkcode serveRpcGateway}. */
export interface ServeRpcGatewayOptions extends RpcGatewayOptions {
  /** Port; 0 picks a free one. @default 54321 (as `supabase start`) */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  hostname?: string;
}

/** A gateway listening on HTTP. */
export interface ServedRpcGateway {
  /** Base URL for `createClient(url, key)`, e.g. `http://127.0.0.1:54321`. */
  url: string;
  /** The gateway behind the server (e.g. for `reloadSchemaCache()`). */
  gateway: RpcGateway;
  /** Stops listening, then closes the gateway. Does not close `db`. */
  close(): Promise<void>;
}

/**
 * Serves the gateway over HTTP with `Deno.serve`, after loading the schema
 * cache (so a bad database fails here, not on the first request).
 *
 * @param options gateway options plus port and hostname
 * @returns the URL and a `close()`
 * @throws {SqlError} when the schema cache cannot be loaded
 *
 * @example
 * ```ts
 * const served = await serveRpcGateway({ db, jwtSecret, port: 0 });
 * const supabase = createClient(served.url, anonKey);
 * ```
 */
export async function serveRpcGateway(options: ServeRpcGatewayOptions): Promise<ServedRpcGateway> {
  const { port = 54321, hostname = "127.0.0.1", ...gatewayOptions } = options;
  const gateway = createRpcGateway(gatewayOptions);
  await gateway.reloadSchemaCache();
  const server = Deno.serve({ port, hostname, onListen: () => {} }, (request) => gateway.fetch(request));
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${server.addr.port}`,
    gateway,
    async close() {
      await server.shutdown();
      await gateway.close();
    },
  };
}

/** What one call transaction needs. */
interface _CallInit {
  db: SqlClient;
  request: Request;
  auth: AuthResult;
  allowedRoles: ReadonlySet<string>;
  schema: string;
  extraSearchPath: readonly string[];
  routine: Routine;
  args: RpcArguments;
  media: ResponseMedia;
}

/** One attempt: a whole transaction, safe to re-run after a rollback. */
function _runCall(
  { db, request, auth, allowedRoles, schema, extraSearchPath, routine, args, media }: _CallInit,
): Promise<CallRow> {
  const readOnly = request.method !== "POST" || routine.volatility !== "volatile";
  const settings = requestSettingsStatement({
    schema,
    extraSearchPath,
    role: auth.role,
    claims: auth.claims,
    method: request.method,
    path: new URL(request.url).pathname.slice(REST_PREFIX.length),
    headers: request.headers,
  });
  const call = callStatement(routine, args, media);
  return db.transaction(async (tx) => {
    // Explicit, like PostgREST's BEGIN ISOLATION LEVEL READ COMMITTED, so a
    // database whose default isolation differs still behaves like Supabase.
    await tx.query("set transaction isolation level read committed");
    if (!allowedRoles.has(auth.role)) throw await _roleRefusal(tx, auth.role);
    await tx.query(settings.text, settings.params);
    const [row] = await tx.query<CallRow>(call.text, call.params);
    if (!row) throw new Error("The call statement returned no row");
    // Thrown inside the transaction, so whatever the function wrote is rolled back.
    if (media.kind === "object" && row.page_total !== 1) throw singularityError(row.page_total);
    return row;
  }, { readOnly });
}

/**
 * What Postgres answers an authenticator that tries to `SET ROLE` to a role
 * not granted to it (see {@linkcode RpcGatewayOptions.allowedRoles}): 42501
 * when the role exists, 22023 when it does not. Mapped to HTTP like any
 * database error, so the status (403 or 401) follows PostgREST's table.
 */
async function _roleRefusal(tx: SqlSession, role: string): Promise<SqlError> {
  const [row] = await tx.query<{ exists: boolean }>(
    "select exists (select 1 from pg_catalog.pg_roles where rolname = $1) as exists",
    [role],
  );
  return row?.exists
    ? new SqlError("42501", `permission denied to set role "${role}"`, null, null)
    : new SqlError("22023", `role "${role}" does not exist`, null, null);
}

/** The function name of `/rest/v1/rpc/<fn>`. */
function _functionName(pathname: string): string {
  const match = RPC_PATH.exec(pathname);
  if (!match) throw invalidResourcePath();
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    throw invalidResourcePath();
  }
}

/** Network-level failures of the database drivers, answered 503 like PostgREST's connection errors. */
function _isConnectionFailure(error: unknown): boolean {
  const code = error !== null && typeof error === "object" && "code" in error ? error.code : undefined;
  return typeof code === "string" && (code.startsWith("CONNECT") || /^E[A-Z]+$/.test(code));
}

function _toApiError(error: unknown, authenticated: boolean): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof SqlError) return apiErrorFromSqlError(error, authenticated);
  const message = error instanceof Error ? error.message : String(error);
  return _isConnectionFailure(error) ? connectionError(message) : internalError(message);
}
