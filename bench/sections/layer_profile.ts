/**
 * Where the time of a webhook credit goes: the same credit (record the
 * event, credit the wallet) run with one more layer of the real stack at a
 * time, on fresh paid payments, at the same concurrency:
 *
 * | layer | adds |
 * | --- | --- |
 * | L0 direct SQL | the two SQL functions through npm:postgres, prepared, autocommit |
 * | L1 gateway's SQL | the statements the RPC gateway runs per call (BEGIN, isolation, 7 set_config, the call statement, COMMIT), unprepared, through its driver wrapper |
 * | L1p the same, PostgREST-shaped | those statements prepared, the isolation level in BEGIN (a side branch: what PostgREST would cost) |
 * | L2 supabase-js → gateway in-process | supabase-js building the call, the gateway's JWT check, argument parsing, response (no socket) |
 * | L3 supabase-js → gateway over HTTP | a localhost HTTP round trip per RPC |
 * | L4 PaymentStore | the store adapter: zod on every result, error mapping |
 * | L5 + provider verify | the Paystack adapter → sandbox over HTTP (the sandbox reads its own table) |
 * | L6 + Redis lock | acquire (fence) and release through @upstash/redis → Upstash proxy → Redis |
 * | L7 service in-process | `app.fetch`: Hono, middleware, access log, signature (HMAC-SHA512), JSON, zod of the event |
 * | L8 service over HTTP | a client socket to the service, from the load worker |
 *
 * Run with `measurePaths` (L0 the baseline). L5 and L6 compose the store, the provider and the lock the way the webhook
 * use case does (record → verify → credit, under `payment:<reference>`), so
 * they do not depend on its internals.
 *
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { DEV_JWT_SECRET } from "../../src/config.ts";
import { connectPostgres, type SqlClient } from "../../src/db/sql_client.ts";
import { createRpcGateway, type RpcGateway } from "../../src/local/rpc_gateway.ts";
import { callStatement } from "../../src/local/rpc_gateway/call_statement.ts";
import { findRoutine } from "../../src/local/rpc_gateway/find_routine.ts";
import { authenticate } from "../../src/local/rpc_gateway/jwt_auth.ts";
import { negotiateMedia } from "../../src/local/rpc_gateway/media_type.ts";
import { requestSettingsStatement } from "../../src/local/rpc_gateway/request_settings.ts";
import { parseBodyArguments } from "../../src/local/rpc_gateway/rpc_arguments.ts";
import { loadSchemaCache, type SchemaCache } from "../../src/local/rpc_gateway/schema_cache.ts";
import { withLock } from "../../src/lock/with_lock.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { paymentLockKey } from "../../src/payments/run_under_payment_lock.ts";
import type { BenchStack } from "../support/bench_stack.ts";
import { countingSqlClient, type SqlCounters } from "../support/counting_sql_client.ts";
import type { CreditPath, Settle } from "../support/credit_paths.ts";
import { directPath, servicePath } from "../support/main_paths.ts";
import { createPaidPayments, type PaidPayment, webhookRequest } from "../support/payments_fixture.ts";

/** The layers as credit paths, and the gateway's statement counters (fed by L2). */
export interface Layers {
  paths: CreditPath[];
  /** Statements, driver round trips and transactions L2's gateway sent to Postgres. */
  gatewaySql: SqlCounters;
  close(): Promise<void>;
}

interface _Event {
  event: string;
  data: { id?: number | string; reference: string };
}

/** The RPC arguments the store sends (see src/store/supabase_payment_store.ts). */
function _recordArgs(p: PaidPayment, fence: number) {
  const event = JSON.parse(p.webhookBody) as _Event;
  return {
    event,
    args: {
      p_provider: "paystack",
      p_event_key: `${event.event}:${event.data.id ?? p.reference}`,
      p_event_type: event.event,
      p_reference: p.reference,
      p_payload: event,
      p_mark_processing: true,
      p_fence: fence,
    },
  };
}

function _creditArgs(p: PaidPayment, event: _Event, eventId: string, fence: number) {
  return {
    p_reference: p.reference,
    p_amount: p.amount,
    p_currency: p.currency,
    p_provider_payload: event.data,
    p_fence: fence,
    p_actor: "webhook",
    p_reason: "provider confirmed success",
    p_webhook_event_id: eventId,
  };
}

/** Both RPCs of a credit through a supabase-js client. */
async function _rpcCredit(client: SupabaseClient, p: PaidPayment, fence: number): Promise<unknown> {
  const { event, args } = _recordArgs(p, fence);
  const recorded = await client.rpc("record_webhook_event", args);
  if (recorded.error) throw new Error(recorded.error.message);
  const credited = await client.rpc("credit_user", _creditArgs(p, event, recorded.data.event_id, fence));
  if (credited.error) throw new Error(credited.error.message);
  return credited.data.outcome;
}

/** The two statements the gateway runs for `POST /rpc/<fn>`: the request settings and the call. */
function _rpcStatements(cache: SchemaCache, headers: Headers, claims: Record<string, unknown>) {
  const media = negotiateMedia(headers.get("accept"));
  return (fn: string, body: Record<string, unknown>) => {
    const args = parseBodyArguments(JSON.stringify(body), "application/json");
    const routine = findRoutine(cache, { schema: "public", name: fn, keys: args.keys, jsonPost: true });
    const settings = requestSettingsStatement({
      schema: "public",
      extraSearchPath: ["public"],
      role: "service_role",
      claims,
      method: "POST",
      path: `/rpc/${fn}`,
      headers,
    });
    return { settings, call: callStatement(routine, args, media) };
  };
}

/** One RPC as the gateway runs it, minus the gateway: its statements, through its driver wrapper. */
function _gatewaySqlCall(db: SqlClient, cache: SchemaCache, headers: Headers, claims: Record<string, unknown>) {
  const statements = _rpcStatements(cache, headers, claims);
  return async (fn: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const { settings, call } = statements(fn, body);
    const row = await db.transaction(async (tx) => {
      await tx.query("set transaction isolation level read committed");
      await tx.query(settings.text, settings.params);
      const [row] = await tx.query<{ body: string }>(call.text, call.params);
      return row!;
    });
    return JSON.parse(row.body);
  };
}

/**
 * The same statements as {@linkcode _gatewaySqlCall}, shaped as PostgREST
 * sends them: the isolation level in BEGIN, the settings and the call as
 * prepared statements (one round trip each once prepared), then COMMIT.
 */
function _postgrestShapedCall(
  sql: postgres.Sql,
  cache: SchemaCache,
  headers: Headers,
  claims: Record<string, unknown>,
) {
  const statements = _rpcStatements(cache, headers, claims);
  return async (fn: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const { settings, call } = statements(fn, body);
    const row: { body: string } = await sql.begin("isolation level read committed read write", async (tx) => {
      await tx.unsafe(settings.text, settings.params as postgres.ParameterOrJSON<never>[], { prepare: true });
      const [row] = await tx.unsafe(call.text, call.params as postgres.ParameterOrJSON<never>[], { prepare: true });
      return row as unknown as { body: string };
    });
    return JSON.parse(row.body);
  };
}

/** Builds the layers on `stack` (L1 gets a pool of `poolSize`, as the gateway's). */
export async function buildLayers(stack: BenchStack, { poolSize }: { poolSize: number }): Promise<Layers> {
  const jwtSecret = stack.config.auth.jwtSecret ?? DEV_JWT_SECRET;
  const serviceKey = await signDevToken({ secret: jwtSecret, role: "service_role", expiresInSeconds: 86_400 });
  const clientOptions = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };

  // What supabase-js sends, captured once, for L1's settings statement.
  let captured: Request | null = null;
  const capturing = createClient(stack.runtime.endpoints.rpcGateway!, serviceKey, {
    ...clientOptions,
    global: {
      fetch: (input, init) => {
        captured ??= new Request(input, init);
        return fetch(input, init);
      },
    },
  });
  await capturing.rpc("max_fence", {});
  const headers = new Headers(captured!.headers);
  const { claims } = await authenticate(headers, {
    secret: new TextEncoder().encode(jwtSecret),
    anonRole: "anon",
    now: new Date(),
  });

  const gatewaySqlDb = connectPostgres(stack.database.url, { max: poolSize, applicationName: "bench-gateway-sql" });
  const cache = await loadSchemaCache(gatewaySqlDb, ["public"]);
  const gatewayCall = _gatewaySqlCall(gatewaySqlDb, cache, headers, claims);
  const preparedSql = postgres(stack.database.url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: "bench-postgrest-shaped" },
  });
  const preparedCall = _postgrestShapedCall(preparedSql, cache, headers, claims);
  const gatewaySql: SqlCounters = { statements: 0, roundTrips: 0, transactions: 0 };
  const inProcessGateway: RpcGateway = createRpcGateway({
    db: countingSqlClient(stack.database.db, gatewaySql),
    jwtSecret,
  });
  await inProcessGateway.reloadSchemaCache();
  const inProcess = createClient("http://gateway.invalid", serviceKey, {
    ...clientOptions,
    global: { fetch: (input, init) => inProcessGateway.fetch(new Request(input, init)) },
  });
  const overHttp = createClient(stack.runtime.endpoints.rpcGateway!, serviceKey, clientOptions);
  const store = stack.runtime.store;
  const provider = createPaystackProvider({
    secretKey: stack.config.provider.secretKey,
    baseUrl: stack.config.provider.baseUrl,
    timeoutMs: stack.config.provider.timeoutMs,
  });
  let fence = 2_000_000;

  const storeCredit = async (p: PaidPayment, f: number, verify: boolean) => {
    const event = JSON.parse(p.webhookBody) as _Event;
    const recorded = await store.recordWebhookEvent({
      provider: "paystack",
      eventKey: `${event.event}:${event.data.id ?? p.reference}`,
      eventType: event.event,
      reference: p.reference,
      payload: event,
      markProcessing: true,
      fence: f,
    });
    const verified = verify ? await provider.verify(p.reference) : null;
    const credit = await store.creditUser({
      reference: p.reference,
      amount: verified ? verified.requestedAmount : p.amount,
      currency: verified ? verified.currency : p.currency,
      providerPayload: verified ? verified.raw : event.data,
      fence: f,
      actor: "webhook",
      reason: "provider confirmed success",
      webhookEventId: recorded.eventId,
    });
    return credit.outcome;
  };
  const prepare = (count: number, owner?: string) => createPaidPayments(stack, count, owner ? { userId: owner } : {});
  const shared = (settle: Settle) => () => Promise.resolve({ settle, close: () => Promise.resolve() });

  const paths: CreditPath[] = [
    { ...directPath(stack, "L0"), name: "direct SQL" },
    {
      id: "L1",
      name: "gateway's SQL",
      adds: "BEGIN, SET TRANSACTION, set_config ×7, the call statement, COMMIT per RPC; unprepared",
      prepare,
      open: shared(async (p) => {
        const f = ++fence;
        const { event, args } = _recordArgs(p, f);
        const recorded = await gatewayCall("record_webhook_event", args);
        const credited = await gatewayCall("credit_user", _creditArgs(p, event, String(recorded.event_id), f));
        return credited.outcome;
      }),
    },
    {
      id: "L1p",
      name: "gateway's SQL, PostgREST-shaped",
      adds:
        "the same statements prepared, isolation in BEGIN: 4 round trips per RPC instead of 7 (what PostgREST sends)",
      prepare,
      open: shared(async (p) => {
        const f = ++fence;
        const { event, args } = _recordArgs(p, f);
        const recorded = await preparedCall("record_webhook_event", args);
        const credited = await preparedCall("credit_user", _creditArgs(p, event, String(recorded.event_id), f));
        return credited.outcome;
      }),
    },
    {
      id: "L2",
      name: "supabase-js → gateway, in-process",
      adds: "supabase-js, the gateway's JWT check, parsing and response building (no socket)",
      prepare,
      open: shared((p) => _rpcCredit(inProcess, p, ++fence)),
    },
    {
      id: "L3",
      name: "supabase-js → gateway over HTTP",
      adds: "one localhost HTTP round trip per RPC",
      prepare,
      open: shared((p) => _rpcCredit(overHttp, p, ++fence)),
    },
    {
      id: "L4",
      name: "PaymentStore",
      adds: "the store adapter: zod on each result, error mapping",
      prepare,
      open: shared((p) => storeCredit(p, ++fence, false)),
    },
    {
      id: "L5",
      name: "+ provider verify",
      adds: "Paystack adapter → sandbox over HTTP (its own table read), zod of the answer",
      prepare,
      open: shared((p) => storeCredit(p, ++fence, true)),
    },
    {
      id: "L6",
      name: "+ Redis lock",
      adds: "acquire (SET NX PX + INCR fence) and release, @upstash/redis → proxy → Redis",
      prepare,
      open: shared(async (p) => {
        const run = await withLock(
          stack.runtime.locks,
          paymentLockKey(p.reference),
          (handle) => storeCredit(p, handle.fence ?? ++fence, true),
          { leaseMs: stack.config.lock.leaseMs, waitMs: stack.config.lock.waitMs },
        );
        return run.acquired ? run.value : "locked";
      }),
    },
    {
      id: "L7",
      name: "service in-process (app.fetch)",
      adds: "Hono routing, middleware, access log, HMAC-SHA512 signature, JSON, zod of the event",
      prepare,
      open: shared(async (p) => {
        const spec = webhookRequest(stack, p);
        const res = await stack.runtime.app.fetch(
          new Request(spec.url, { method: "POST", headers: spec.headers, body: spec.body! }),
        );
        return (await res.json()).outcome;
      }),
    },
    {
      ...servicePath(stack, "L8"),
      name: "service over HTTP",
      adds: "a client socket to the service (client in the load worker)",
    },
  ];
  return {
    paths,
    gatewaySql,
    async close() {
      await inProcessGateway.close();
      await gatewaySqlDb.close();
      await preparedSql.end({ timeout: 5 });
    },
  };
}
