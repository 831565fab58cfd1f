/**
 * The Supabase Edge Function entry, started as the edge runtime starts it:
 * its own process, only the environment Supabase gives a function (the
 * injected `SUPABASE_URL` and `SUPABASE_SERVICE_ROLE_KEY` plus secrets),
 * `APP_ENV` left to the entry's default (production), and requests under the
 * function's path `/payments`. Behind it, the real local stack in cloud
 * shape: supabase-js → RPC gateway → Postgres, @upstash/redis → Upstash proxy
 * → Redis, the Paystack adapter → the sandbox on its own port.
 */
import assert from "node:assert/strict";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { serveRpcGateway } from "../../src/local/rpc_gateway.ts";
import { serveUpstashProxy } from "../../src/local/upstash_proxy.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { createSandboxPaystack, ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { expectJson, expectProblem } from "../support/http_helpers.ts";
import { chargeSuccessBody, type CreatedPayment } from "../support/payment_flow.ts";
import { ignoreWithout, testRedisUrl } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";

const ENTRY = new URL("../../supabase/functions/payments/index.ts", import.meta.url);
const SANDBOX_RETRIES = [50, 100, 200];
/** A boot that hangs fails the test instead of the run (a loaded CI machine boots it in about a second). */
const BOOT_BUDGET_MS = 30_000;

function _secret(prefix: string, length = 40): string {
  return `${prefix}${crypto.randomUUID().replaceAll("-", "")}`.padEnd(length, "0").slice(0, length);
}

/** A started function process: its base URL (no `/payments`), its log lines, and a stop. */
interface EdgeProcess {
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Runs the entry with `deno run`, network and environment access only, on a
 * port the OS picks (`PORT=0`); resolves once it logged that it listens.
 */
async function startFunction(env: Record<string, string>): Promise<EdgeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", ENTRY.pathname],
    cwd: new URL("../../", import.meta.url).pathname,
    clearEnv: true,
    env: {
      // What deno itself needs to find its cache; the function ignores them.
      ...Object.fromEntries(["HOME", "PATH", "DENO_DIR"].flatMap((k) => {
        const v = Deno.env.get(k);
        return v ? [[k, v]] : [];
      })),
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const stderr = new Response(child.stderr).text();
  const listening = Promise.withResolvers<string>();
  const drain = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const entry = JSON.parse(line);
        if (entry.msg === "listening") listening.resolve(String(entry.url).replace(/\/payments$/, ""));
      }
    }
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await drain;
    await stderr;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const url = await Promise.race([
      listening.promise,
      child.status.then(async (status) => {
        await drain;
        throw new Error(`The function exited (${status.code}) before listening:\n${await stderr}\n${logs.join("\n")}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`The function did not listen within ${BOOT_BUDGET_MS} ms`)),
          BOOT_BUDGET_MS,
        );
      }),
    ]);
    return { url, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const NAME = "the Edge Function serves the service under /payments in cloud mode";

Deno.test({
  name: NAME,
  ignore: await ignoreWithout(["redis"], NAME, "cloud mode locks through Upstash, here the proxy in front of Redis"),
  fn: _edgeFunctionScenario,
});

async function _edgeFunctionScenario(t: Deno.TestContext): Promise<void> {
  const jwtSecret = _secret("jwt", 48);
  const paystackSecret = _secret("sk_test_edge", 40);
  const upstashToken = _secret("upstash", 32);
  const database = await createTestDatabase({ max: 6 });
  const closers: Array<() => Promise<void>> = [() => database.close()];
  try {
    const gateway = await serveRpcGateway({ db: database.db, jwtSecret, port: 0 });
    closers.push(() => gateway.close());
    const proxy = serveUpstashProxy({ redisUrl: testRedisUrl(), token: upstashToken, port: 0 });
    closers.push(() => proxy.close());

    // The sandbox needs the function's webhook URL, known only once it listens.
    await ensureSandboxSchema(database.db);
    let sandboxFetch: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
    const sandboxServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (r) => sandboxFetch(r));
    closers.push(() => sandboxServer.shutdown());
    const sandboxUrl = `http://127.0.0.1:${sandboxServer.addr.port}`;

    const fn = await startFunction({
      SUPABASE_URL: gateway.url,
      SUPABASE_SERVICE_ROLE_KEY: await signDevToken({ secret: jwtSecret, role: "service_role" }),
      SUPABASE_ANON_KEY: await signDevToken({ secret: jwtSecret, role: "anon" }),
      JWT_SECRET: jwtSecret,
      UPSTASH_REDIS_REST_URL: proxy.url,
      UPSTASH_REDIS_REST_TOKEN: upstashToken,
      PAYSTACK_SECRET_KEY: paystackSecret,
      PAYSTACK_BASE_URL: sandboxUrl,
      DB_WEBHOOK_SECRET: _secret("dbhook", 32),
      LOCK_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
      PORT: "0",
    });
    closers.push(() => fn.stop());

    const sandbox = createSandboxPaystack({
      db: database.db,
      secretKey: paystackSecret,
      publicBaseUrl: sandboxUrl,
      webhookUrl: `${fn.url}/payments/v1/webhooks/paystack`,
      retrySchedule: SANDBOX_RETRIES,
      appEnv: "test",
      log: () => {},
    });
    closers.push(() => sandbox.close());
    sandboxFetch = sandbox.app.fetch;

    const userId = crypto.randomUUID();
    const token = await signDevToken({ secret: jwtSecret, userId });
    const initialize = async (amount: number): Promise<CreatedPayment> => {
      const res = await fetch(`${fn.url}/payments/v1/payments`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "Idempotency-Key": crypto.randomUUID(),
        },
        body: JSON.stringify({ amount, currency: "NGN" }),
      });
      const body = await expectJson(res, 201);
      assert.equal(body.state, "pending");
      assert.ok(String(body.authorization_url).startsWith(`${sandboxUrl}/`), String(body.authorization_url));
      return {
        userId,
        token,
        reference: String(body.reference),
        authorizationUrl: String(body.authorization_url),
        amount,
        currency: "NGN",
      };
    };
    const pay = async (payment: CreatedPayment) => {
      const res = await fetch(payment.authorizationUrl, {
        method: "POST",
        body: new URLSearchParams({ outcome: "success" }),
        headers: { Accept: "application/json" },
      });
      await res.body?.cancel();
      assert.ok(res.status < 300, `checkout answered ${res.status}`);
    };
    const wallet = async () => {
      const res = await fetch(`${fn.url}/payments/v1/wallet`, { headers: { Authorization: `Bearer ${token}` } });
      const body = await expectJson<{ balances: Array<{ currency: string; balance: number }> }>(res, 200);
      return { balances: body.balances.map(({ currency, balance }) => ({ currency, balance })) };
    };

    await t.step("GET /payments/health answers from the function", async () => {
      const res = await fetch(`${fn.url}/payments/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    });

    await t.step("initialize → signed webhook → wallet, through /payments/v1/...", async () => {
      const payment = await initialize(250_000);
      // Paid while the sandbox's own webhook fails every attempt: the credit
      // can only come from the webhook this step signs and posts.
      sandbox.faults.failWebhooks({ times: 1 + SANDBOX_RETRIES.length, status: 500 });
      await pay(payment);
      await sandbox.idle();
      assert.deepEqual((await wallet()).balances, []);

      const rawBody = chargeSuccessBody(payment);
      const res = await fetch(`${fn.url}/payments/v1/webhooks/paystack`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "x-paystack-signature": await signPaystackBody(paystackSecret, rawBody),
        },
        body: rawBody,
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      assert.deepEqual((await wallet()).balances, [{ currency: "NGN", balance: 250_000 }]);
    });

    await t.step("Paystack's own webhook to <function URL>/v1/webhooks/paystack credits too", async () => {
      const payment = await initialize(100_000);
      await pay(payment);
      await sandbox.idle();
      const [delivery] = (await sandbox.stats.deliveries()).filter((d) => d.reference === payment.reference);
      assert.ok(delivery, "the sandbox sent no webhook");
      assert.equal(delivery.url, `${fn.url}/payments/v1/webhooks/paystack`);
      assert.equal(delivery.lastStatus, 200);
      assert.deepEqual((await wallet()).balances, [{ currency: "NGN", balance: 350_000 }]);
    });

    await t.step("an unprefixed path is a problem+json 404", async () => {
      const res = await fetch(`${fn.url}/v1/wallet`, { headers: { Authorization: `Bearer ${token}` } });
      await expectProblem(res, 404, "not_found");
    });

    await t.step("the function logs JSON lines and never the secrets it was given", () => {
      const text = fn.logs.join("\n");
      for (const secret of [jwtSecret, paystackSecret, upstashToken]) assert.ok(!text.includes(secret));
      for (const line of fn.logs) JSON.parse(line);
    });
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

Deno.test("the Edge Function refuses to start without its secrets, naming every missing one", async () => {
  await assert.rejects(
    startFunction({
      SUPABASE_URL: "https://project-ref.supabase.co",
      SUPABASE_SERVICE_ROLE_KEY: "sb_secret_0123456789abcdefghij",
      PORT: "0",
    }),
    (error: Error) => {
      assert.match(error.message, /exited \(1\) before listening/);
      for (const name of ["UPSTASH_REDIS_REST_URL", "PAYSTACK_SECRET_KEY", "DB_WEBHOOK_SECRET"]) {
        assert.match(error.message, new RegExp(`- ${name}`));
      }
      return true;
    },
  );
});
