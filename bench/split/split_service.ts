/**
 * The service as production runs it: alone on its event loop, its backing
 * services elsewhere. The stand-ins run in a worker thread
 * (`stand_ins_worker.ts`) on the benchmark's database and Redis; the service
 * is assembled from production code only (`assembleService`, as the cloud
 * entry does) against their URLs and served on the main thread.
 *
 * @module
 */
import { signDevToken } from "../../src/auth/dev_token.ts";
import { DEV_JWT_SECRET, DEV_UPSTASH_TOKEN } from "../../src/config.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { assembleService } from "../../src/runtime/service_runtime.ts";
import { benchRedisUrl, type BenchStack } from "../support/bench_stack.ts";
import type { CreditPath } from "../support/credit_paths.ts";
import { createPaidPayments, type PaymentTarget, webhookRequest } from "../support/payments_fixture.ts";
import type { StandInsReady, StandInsStart } from "./stand_ins_protocol.ts";

/** The split service, running. */
export interface SplitService extends PaymentTarget {
  /** The stand-ins worker's thread id, for the CPU meter (null off Linux). */
  standInsTid: number | null;
  close(): Promise<void>;
}

function _next<T>(worker: Worker, kind: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The stand-ins worker did not answer "${kind}"`)), timeoutMs);
    worker.onmessage = (event: MessageEvent<{ kind: string }>) => {
      if (event.data.kind !== kind) return;
      clearTimeout(timer);
      resolve(event.data as T);
    };
    worker.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault();
      reject(new Error(`The stand-ins worker failed: ${event.message}`));
    };
  });
}

/** Starts the stand-ins worker and the service against it, on `stack`'s database. */
export async function startSplitService(stack: BenchStack, { poolSize }: { poolSize: number }): Promise<SplitService> {
  const jwtSecret = stack.config.auth.jwtSecret ?? DEV_JWT_SECRET;
  const worker = new Worker(new URL("./stand_ins_worker.ts", import.meta.url).href, { type: "module" });
  const readyPromise = _next<StandInsReady>(worker, "ready", 30_000);
  const start: StandInsStart = {
    kind: "start",
    databaseUrl: stack.database.url,
    redisUrl: benchRedisUrl(),
    jwtSecret,
    upstashToken: DEV_UPSTASH_TOKEN,
    paystackSecret: stack.config.provider.secretKey,
    currencies: stack.config.currencies.map((c) => c.code),
    poolSize,
  };
  worker.postMessage(start);
  let ready: StandInsReady;
  try {
    ready = await readyPromise;
  } catch (error) {
    worker.terminate();
    throw error;
  }
  const config = {
    ...stack.config,
    provider: { ...stack.config.provider, baseUrl: ready.sandboxUrl },
    lock: { ...stack.config.lock, prefix: `s${crypto.randomUUID().slice(0, 8)}` },
  };
  const service = assembleService(config, {
    supabase: {
      url: ready.gatewayUrl,
      serviceRoleKey: await signDevToken({ secret: jwtSecret, role: "service_role", expiresInSeconds: 86_400 }),
    },
    lockStore: { kind: "upstash", url: ready.proxyUrl, token: DEV_UPSTASH_TOKEN },
  }, { logger: createLogger({ level: "info", write: () => {} }) });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, service.app.fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    userToken: (userId) => stack.userToken(userId),
    paystackSecret: stack.config.provider.secretKey,
    // This sandbox has no webhook URL: nothing to turn off.
    withoutWebhooks: (_count, pay) => pay(),
    standInsTid: ready.tid,
    async close() {
      await server.shutdown();
      await service.close();
      const closed = _next(worker, "closed", 15_000);
      worker.postMessage({ kind: "close" });
      await closed.catch(() => {});
      worker.terminate();
    },
  };
}

/** The split service as a credit path: a signed webhook over HTTP. */
export function splitServicePath(split: SplitService): CreditPath {
  return {
    id: "split",
    name: "service over HTTP, stand-ins on their own thread",
    adds: "the service alone on its event loop; gateway, Upstash proxy and sandbox in a worker thread",
    prepare: (count, owner) => createPaidPayments(split, count, owner ? { userId: owner } : {}),
    request: (p) => webhookRequest(split, p),
  };
}
