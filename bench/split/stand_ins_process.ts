/**
 * The local stand-ins — RPC gateway (→ Postgres), Upstash proxy (→ Redis)
 * and sandbox Paystack — as a process of their own, for the benchmarks that
 * run the service as separate processes (start-up, scale-out): each side's
 * CPU and memory then come from its own `/proc/<pid>`. It counts what
 * reaches it: RPCs per function, Upstash REST requests and commands (by
 * purpose), provider calls.
 *
 * Started by `stand_ins_client.ts` with its settings as JSON in
 * `BENCH_STAND_INS`; prints one JSON line (`StandInsProcessReady`) when it
 * serves, answers `GET <controlUrl>/counters`, and stops on SIGTERM or when
 * its stdin closes (the benchmark exited). Listens on 127.0.0.1 only.
 *
 * @module
 */
import { connectPostgres } from "../../src/db/sql_client.ts";
import { createRpcGateway } from "../../src/local/rpc_gateway.ts";
import { createSandboxPaystack, ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { providerOp } from "../support/bench_stack.ts";
import { serveCountingUpstash } from "../support/counting_upstash.ts";
import type { StandInsStart } from "./stand_ins_protocol.ts";

/** The line the process prints once it serves. */
export interface StandInsProcessReady {
  gatewayUrl: string;
  proxyUrl: string;
  sandboxUrl: string;
  controlUrl: string;
}

/** What `GET /counters` answers. */
export interface StandInsCounters {
  rpc: Record<string, number>;
  redis: { requests: number; commands: number; byPurpose: Record<string, number> };
  provider: Record<string, number>;
}

const RPC_PATH = /^\/rest\/v1\/rpc\/([^/?#]+)/;

if (import.meta.main) {
  const settings = JSON.parse(Deno.env.get("BENCH_STAND_INS") ?? "{}") as Omit<StandInsStart, "kind">;
  const counters: StandInsCounters = { rpc: {}, redis: { requests: 0, commands: 0, byPurpose: {} }, provider: {} };
  const closers: Array<() => Promise<void>> = [];
  const serve = (handler: (req: Request) => Response | Promise<Response>) =>
    Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handler);

  const db = connectPostgres(settings.databaseUrl, { max: settings.poolSize, applicationName: "bench-stand-ins" });
  closers.push(() => db.close());
  const gateway = createRpcGateway({ db, jwtSecret: settings.jwtSecret });
  await gateway.reloadSchemaCache();
  const gatewayServer = serve((req) => {
    const fn = RPC_PATH.exec(new URL(req.url).pathname)?.[1];
    if (fn) counters.rpc[fn] = (counters.rpc[fn] ?? 0) + 1;
    return gateway.fetch(req);
  });
  closers.push(async () => {
    await gatewayServer.shutdown();
    await gateway.close();
  });
  const proxy = serveCountingUpstash({ redisUrl: settings.redisUrl, token: settings.upstashToken });
  counters.redis = proxy.counters;
  closers.push(() => proxy.close());

  await ensureSandboxSchema(db);
  let sandboxFetch: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const sandboxServer = serve((req) => {
    const op = providerOp(req.method, req.url, "");
    if (op) counters.provider[op] = (counters.provider[op] ?? 0) + 1;
    return sandboxFetch(req);
  });
  const sandboxUrl = `http://127.0.0.1:${sandboxServer.addr.port}`;
  // No webhook URL: the benchmark delivers the events itself.
  const sandbox = createSandboxPaystack({
    db,
    secretKey: settings.paystackSecret,
    currencies: settings.currencies,
    publicBaseUrl: sandboxUrl,
    appEnv: "test",
    log: () => {},
  });
  sandboxFetch = sandbox.app.fetch;
  closers.push(async () => {
    await sandboxServer.shutdown();
    await sandbox.close();
  });

  const control = serve((req) =>
    new URL(req.url).pathname === "/counters" ? Response.json(counters) : new Response(null, { status: 404 })
  );
  closers.push(() => control.shutdown());

  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
      Deno.exit(0);
    })();
  Deno.addSignalListener("SIGTERM", stop);
  // The benchmark holds our stdin open: when it goes away (even killed), so do we.
  (async () => {
    const buffer = new Uint8Array(64);
    while ((await Deno.stdin.read(buffer)) !== null) { /* nothing is sent */ }
    await stop();
  })();

  const ready: StandInsProcessReady = {
    gatewayUrl: `http://127.0.0.1:${gatewayServer.addr.port}`,
    proxyUrl: proxy.url,
    sandboxUrl,
    controlUrl: `http://127.0.0.1:${control.addr.port}`,
  };
  console.log(JSON.stringify(ready));
}
