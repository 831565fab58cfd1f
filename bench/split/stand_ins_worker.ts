/**
 * The local stand-ins — RPC gateway (→ Postgres), Upstash proxy (→ Redis)
 * and sandbox Paystack — on a thread of their own, as PostgREST, Upstash and
 * Paystack are separate services in production. The service then runs
 * alone on the main thread, and the CPU of each side can be told apart.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { connectPostgres, type SqlClient } from "../../src/db/sql_client.ts";
import { serveRpcGateway } from "../../src/local/rpc_gateway.ts";
import { serveUpstashProxy } from "../../src/local/upstash_proxy.ts";
import { createSandboxPaystack, ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_paystack.ts";
import type { StandInsClose, StandInsReady, StandInsStart } from "./stand_ins_protocol.ts";

let closers: Array<() => Promise<void>> = [];

function _tid(): number | null {
  try {
    return Number(Deno.readLinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return null;
  }
}

self.onmessage = async (event: MessageEvent<StandInsStart | StandInsClose>) => {
  const message = event.data;
  if (message.kind === "close") {
    for (const close of closers.reverse()) await close().catch(() => {});
    closers = [];
    self.postMessage({ kind: "closed" });
    return;
  }
  const db: SqlClient = connectPostgres(message.databaseUrl, {
    max: message.poolSize,
    applicationName: "bench-stand-ins",
  });
  closers.push(() => db.close());
  const gateway = await serveRpcGateway({ db, jwtSecret: message.jwtSecret, port: 0 });
  closers.push(() => gateway.close());
  const proxy = serveUpstashProxy({ redisUrl: message.redisUrl, token: message.upstashToken, port: 0 });
  closers.push(() => proxy.close());
  await ensureSandboxSchema(db);
  let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => handler(req));
  const sandboxUrl = `http://127.0.0.1:${server.addr.port}`;
  // No webhook URL: the benchmark delivers the events itself.
  const sandbox = createSandboxPaystack({
    db,
    secretKey: message.paystackSecret,
    currencies: message.currencies,
    publicBaseUrl: sandboxUrl,
    appEnv: "test",
    log: () => {},
  });
  handler = sandbox.app.fetch;
  closers.push(async () => {
    await server.shutdown();
    await sandbox.close();
  });
  const ready: StandInsReady = {
    kind: "ready",
    gatewayUrl: gateway.url,
    proxyUrl: proxy.url,
    sandboxUrl,
    tid: _tid(),
  };
  self.postMessage(ready);
};
