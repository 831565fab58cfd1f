/**
 * Item 2 of the reliability suite: payments while everything around the
 * service fails, each fault only against what this test started, on
 * 127.0.0.1, bounded in count and time:
 *
 * - the service is a separate process (`deno run -A main.ts serve`) on a
 *   database of its own: `kill -9` at seeded moments (mid-request: an
 *   initialize between the provider's answer and our record, a credit in
 *   flight) and started again on the same port;
 * - a Redis of the test's own: stopped (SIGKILL), started empty, flushed;
 * - Postgres: the service's backends (`application_name` sms-payments, on
 *   this test's database only) terminated with `pg_terminate_backend`;
 * - the sandbox provider (served by the test, so it outlives the service)
 *   answering about 20 % of API calls with a 5xx or hanging past the
 *   service's provider timeout, through its fault API, and dropping and
 *   delaying webhooks.
 *
 * Clients behave as real ones: they retry initialize with the same
 * Idempotency-Key until they get their checkout, and the customers pay,
 * decline, tamper with the amount, or pay after a decline. After the faults
 * stop: the sandbox's retries run out, reconciliation passes (both scopes)
 * run, and the audit reads the database against the provider's own records —
 * zero lost, zero double, every declined payment failed, invariants empty.
 *
 * CI size: 300 payments, 3 kills, 2 Redis outages, 2 flushes, 3 backend
 * terminations (`RELIABILITY_SCALE` multiplies). `FAULTS_SEED` replays the
 * plan (payments, kinds, fault moments, provider fault draws); the
 * processes' own timing is not under the seed.
 */
import assert from "node:assert/strict";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { connectPostgres, type SqlClient } from "../../src/db/sql_client.ts";
import { createSandboxPaystack, ensureSandboxSchema } from "../../src/providers/sandbox/sandbox_paystack.ts";
import type { SandboxEndpoint } from "../../src/providers/sandbox/sandbox_faults.ts";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase, type TestDatabase } from "../support/test_db.ts";
import { auditMoney, auditSummary } from "./support/money_audit.ts";
import { freePort } from "../support/free_port.ts";
import { type OwnRedis, startOwnRedis } from "./support/own_redis.ts";
import { dice, pool, reportFigures, sized, suiteSeed } from "./support/scale.ts";
import { findLeaks } from "./support/secret_scan.ts";
import { type ServiceProcess, startServiceProcess } from "./support/service_process.ts";

type Kind = "paid" | "declined" | "late" | "tampered";
const KINDS: Record<Kind, number> = { paid: 65, declined: 15, late: 12, tampered: 8 };
const SECRET_KEY = "sk_test_reliability_faults";

/** The sandbox endpoint a request is for (the checkout pages are the customer's browser: never faulted). */
function endpointOf(method: string, path: string): SandboxEndpoint | null {
  if (method === "POST" && path === "/transaction/initialize") return "initialize";
  if (method === "GET" && path.startsWith("/transaction/verify/")) return "verify";
  if (method === "GET" && path === "/transaction") return "list";
  if (method === "POST" && path === "/refund") return "refund";
  if (method === "GET" && path === "/refund") return "refund_list";
  if (method === "GET" && path.startsWith("/refund/")) return "refund_fetch";
  return null;
}

const name =
  "faults: kill -9, Redis lost, Postgres backends terminated, provider 5xx/timeouts — zero lost, zero double";

Deno.test({
  name,
  ignore: await ignoreWithout(
    ["postgres", "redis-server"],
    name,
    "it kills a service process on a real Postgres and a Redis of its own",
  ),
  async fn() {
    const seed = suiteSeed("faults");
    const roll = dice(seed);
    const faultDice = dice(seed ^ 0x5bd1e995); // provider draws: a stream of their own, so the plan stays fixed
    const n = sized(300);
    const started = performance.now();
    const figures = {
      kills: 0,
      redis_stops: 0,
      redis_flushes: 0,
      pg_terminations: 0,
      pg_backends_terminated: 0,
      webhook_drop_bursts: 0,
      webhook_delays: 0,
      provider_5xx: 0,
      provider_timeouts: 0,
      provider_calls: 0,
      initialize_attempts: 0,
      initialize_gave_up: 0,
      verifies: 0,
      client_errors_5xx: 0,
      client_internal_errors: 0,
      network_errors: 0,
      reconcile_passes: 0,
    };
    const internalErrors: string[] = [];
    let database: TestDatabase | undefined;
    let sandboxDb: SqlClient | undefined;
    let audit: SqlClient | undefined;
    let redis: OwnRedis | undefined;
    let service: ServiceProcess | undefined;
    let server: Deno.HttpServer | undefined;
    let sandbox: ReturnType<typeof createSandboxPaystack> | undefined;
    try {
      redis = await startOwnRedis();
      database = await createTestDatabase();
      sandboxDb = connectPostgres(database.url, { max: 5, applicationName: "reliability-sandbox" });
      audit = database.connect({ max: 1, applicationName: "reliability-audit" });
      await ensureSandboxSchema(sandboxDb);

      // The provider: served by the test (it outlives every kill), with ~20 % of API calls faulted.
      let providerFaults = true;
      let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 });
      server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => handler(req));
      const sandboxUrl = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
      const servicePort = freePort();
      const serviceUrl = `http://127.0.0.1:${servicePort}`;
      const sbx = createSandboxPaystack({
        db: sandboxDb,
        secretKey: SECRET_KEY,
        currencies: ["NGN", "GHS", "USD"],
        publicBaseUrl: sandboxUrl,
        webhookUrl: `${serviceUrl}/v1/webhooks/paystack`,
        retrySchedule: [200, 500, 1_000, 2_000],
        webhookTimeoutMs: 2_000,
        log: () => {},
      });
      sandbox = sbx;
      handler = (req) => {
        const endpoint = endpointOf(req.method, new URL(req.url).pathname);
        if (endpoint) {
          figures.provider_calls++;
          if (providerFaults && faultDice.chance(0.2)) {
            if (faultDice.chance(0.5)) {
              figures.provider_5xx++;
              sbx.faults.failNext({ endpoint, status: faultDice.pick([500, 502, 503]) });
            } else {
              figures.provider_timeouts++;
              sbx.faults.dropNext({ endpoint, ms: 1_500 }); // past the service's 600 ms budget
            }
          }
        }
        return sbx.app.fetch(req);
      };

      const jwtSecret = `reliability-${crypto.randomUUID()}`;
      service = await startServiceProcess(servicePort, {
        APP_ENV: "test",
        LOG_LEVEL: "info",
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        LOCK_PREFIX: `f${crypto.randomUUID().slice(0, 8)}`,
        PAYSTACK_BASE_URL: sandboxUrl,
        PAYSTACK_SECRET_KEY: SECRET_KEY,
        JWT_SECRET: jwtSecret,
        DB_WEBHOOK_SECRET: `db-hook-${crypto.randomUUID()}`,
        PROVIDER_TIMEOUT_MS: "600",
        LOCK_LEASE_MS: "3000",
        LOCK_WAIT_MS: "200",
        LOCK_REDIS_TIMEOUT_MS: "100",
        RECONCILE_PENDING_AFTER_SECONDS: "0",
        RECONCILE_PROCESSING_AFTER_SECONDS: "0",
        RECONCILE_BATCH_SIZE: "500",
        // Rate limits off: this suite is about exactly-once (the limiter has tests of its own, and a
        // 429 to a webhook is one more delivery the provider retries).
        RATE_LIMIT_INITIALIZE_PER_MINUTE: "0",
        RATE_LIMIT_VERIFY_PER_MINUTE: "0",
        RATE_LIMIT_WEBHOOK_PER_MINUTE: "0",
      });
      const svc = service;
      const serviceToken = await signDevToken({ secret: jwtSecret, role: "service_role" });

      /**
       * One request as a client sends it: a refused connection (the service is
       * down) waits for it to be up again and retries, bounded; any answer is
       * returned. A 500 is our bug whatever the fault: recorded.
       */
      const request = async (
        method: string,
        path: string,
        init: { token?: string; body?: string; headers?: Record<string, string> } = {},
      ): Promise<{ status: number; json: Record<string, unknown> } | null> => {
        for (let attempt = 0; attempt < 20; attempt++) {
          await svc.up();
          try {
            const res = await fetch(`${svc.url}${path}`, {
              method,
              headers: {
                ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
                ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
                ...init.headers,
              },
              ...(init.body !== undefined ? { body: init.body } : {}),
            });
            const text = await res.text();
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text);
            } catch { /* not JSON */ }
            if (res.status >= 500) figures.client_errors_5xx++;
            if (res.status === 500) {
              figures.client_internal_errors++;
              internalErrors.push(`${method} ${path}: ${text.slice(0, 300)}`);
            }
            return { status: res.status, json };
          } catch {
            // Connection refused or cut mid-request (a kill): the outcome is unknown; retry.
            figures.network_errors++;
          }
        }
        return null;
      };

      // --- the plan ------------------------------------------------------------------------------------------------
      interface Payment {
        kind: Kind;
        userId: string;
        token: string;
        key: string;
        amount: number;
        currency: string;
        reference?: string;
        authorizationUrl?: string;
      }
      const plans: Payment[] = [];
      for (let i = 0; i < n; i++) {
        const userId = crypto.randomUUID();
        plans.push({
          kind: roll.weighted(KINDS),
          userId,
          token: await signDevToken({ secret: jwtSecret, userId }),
          key: crypto.randomUUID(),
          amount: roll.int(1_000, 500_000),
          currency: roll.weighted({ NGN: 70, GHS: 20, USD: 10 }),
        });
      }
      const verifies = plans.map(() => roll.int(0, 2));
      // Fault moments, as fractions of the payments finished: seeded, bounded.
      type Fault = "kill" | "redis_outage" | "redis_flush" | "pg_terminate" | "webhook_drop" | "webhook_delay";
      const faults: Array<[number, Fault]> = [
        ...Array.from(
          { length: Math.max(1, Math.round(3 * n / 300)) },
          () => [roll.next() * 0.9, "kill"] as [number, Fault],
        ),
        ...Array.from(
          { length: Math.max(1, Math.round(2 * n / 300)) },
          () => [roll.next() * 0.8, "redis_outage"] as [number, Fault],
        ),
        ...Array.from(
          { length: Math.max(1, Math.round(2 * n / 300)) },
          () => [roll.next() * 0.9, "redis_flush"] as [number, Fault],
        ),
        ...Array.from(
          { length: Math.max(1, Math.round(3 * n / 300)) },
          () => [roll.next() * 0.9, "pg_terminate"] as [number, Fault],
        ),
        ...Array.from(
          { length: Math.max(1, Math.round(2 * n / 300)) },
          () => [roll.next() * 0.9, "webhook_drop"] as [number, Fault],
        ),
        ...Array.from({ length: 1 }, () => [roll.next() * 0.5, "webhook_delay"] as [number, Fault]),
      ];
      faults.sort((a, b) => a[0] - b[0]);

      // --- the faults, driven by progress (events), never by the clock --------------------------------------------
      let finished = 0;
      let progressWaiters: Array<{ at: number; wake: () => void }> = [];
      const progressed = () => {
        finished++;
        const due = progressWaiters.filter((w) => w.at <= finished);
        progressWaiters = progressWaiters.filter((w) => w.at > finished);
        for (const w of due) w.wake();
      };
      const reach = (at: number) =>
        at <= finished ? Promise.resolve() : new Promise<void>((wake) => progressWaiters.push({ at, wake }));
      let workloadDone = false;
      let markDone!: () => void;
      const donePromise = new Promise<void>((resolve) => markDone = resolve);
      const injector = (async () => {
        for (const [at, fault] of faults) {
          await reach(Math.floor(at * n));
          if (workloadDone) break;
          switch (fault) {
            case "kill":
              figures.kills++;
              await svc.kill();
              await svc.start();
              break;
            case "redis_outage": {
              figures.redis_stops++;
              await redis!.stop();
              // Down while another 5 % of the payments go through.
              await Promise.race([reach(finished + Math.max(1, Math.floor(n * 0.05))), donePromise]);
              await redis!.start();
              break;
            }
            case "redis_flush":
              figures.redis_flushes++;
              if (redis!.running) await redis!.flush();
              break;
            case "pg_terminate": {
              figures.pg_terminations++;
              const [row] = await audit!.query<{ n: string }>(
                `select count(pg_terminate_backend(pid))::int8 as n from pg_stat_activity
                  where datname = current_database() and application_name = 'sms-payments'`,
              );
              figures.pg_backends_terminated += Number(row!.n);
              break;
            }
            case "webhook_drop":
              figures.webhook_drop_bursts++;
              sbx.faults.failWebhooks({ times: roll.int(5, 30), status: roll.pick([0, 500, 503]) });
              break;
            case "webhook_delay":
              figures.webhook_delays++;
              sbx.faults.delayWebhooks(roll.int(200, 1_500));
              break;
          }
        }
      })();

      // --- the workload --------------------------------------------------------------------------------------------
      const pay = async (p: Payment, outcome: "success" | "failed", amount?: number) => {
        const form = new URLSearchParams({ outcome });
        if (amount !== undefined) form.set("amount", String(amount));
        const res = await fetch(p.authorizationUrl!, {
          method: "POST",
          body: form,
          headers: { Accept: "application/json" },
        });
        await res.body?.cancel();
        assert.ok(res.status < 300, `checkout answered ${res.status}`);
      };
      const verify = async (p: Payment) => {
        figures.verifies++;
        return await request("POST", `/v1/payments/${p.reference}/verify`, { token: p.token });
      };
      await pool(plans.map((p, i) => ({ p, i })), 12, async ({ p, i }) => {
        try {
          for (let attempt = 0; attempt < 30 && !p.reference; attempt++) {
            figures.initialize_attempts++;
            const answer = await request("POST", "/v1/payments", {
              token: p.token,
              body: JSON.stringify({ amount: p.amount, currency: p.currency }),
              headers: { "Idempotency-Key": p.key },
            });
            if (answer?.status === 201) {
              p.reference = String(answer.json.reference);
              p.authorizationUrl = String(answer.json.authorization_url);
            } else if (answer && answer.status < 500 && answer.status !== 409) {
              throw new Error(`initialize answered ${answer.status}: ${JSON.stringify(answer.json)}`);
            }
          }
          if (!p.reference) {
            figures.initialize_gave_up++;
            return;
          }
          if (p.kind === "tampered") await pay(p, "success", p.amount + roll.int(1, 999));
          else await pay(p, p.kind === "paid" ? "success" : "failed");
          for (let v = 0; v < verifies[i]!; v++) await verify(p);
          if (p.kind === "late") {
            // The customer comes back and pays the declined checkout, once we have failed it.
            for (let attempt = 0; attempt < 10; attempt++) {
              const answer = await verify(p);
              if (answer?.status === 200 && answer.json.state === "failed") break;
            }
            await pay(p, "success");
            if (roll.chance(0.5)) await verify(p);
          }
        } finally {
          progressed();
        }
      });
      workloadDone = true;
      markDone();
      progressWaiters.forEach((w) => w.wake());
      await injector;
      const workloadMs = performance.now() - started;

      // --- recovery ------------------------------------------------------------------------------------------------
      providerFaults = false;
      sbx.faults.reset();
      if (!redis.running) await redis.start();
      if (!svc.running) await svc.start();
      await sbx.idle(); // every webhook retry has run out or landed
      const passes: unknown[] = [];
      for (let pass = 0; pass < 6 + Math.ceil(n / 500); pass++) {
        figures.reconcile_passes++;
        const answer = await request("POST", "/v1/jobs/reconcile", { token: serviceToken });
        passes.push(answer?.json);
        if (answer?.status === 200 && answer.json.examined === 0) break;
      }
      figures.reconcile_passes++;
      const providerPass = await request("POST", "/v1/jobs/reconcile?scope=provider&since=2h", { token: serviceToken });
      const last = await request("POST", "/v1/jobs/reconcile", { token: serviceToken });
      figures.reconcile_passes++;

      // --- the audit -----------------------------------------------------------------------------------------------
      const money = await auditMoney(audit);
      const summary = auditSummary(money);
      const leaks = findLeaks(svc.lines.filter((l) => l.startsWith("{")), [SECRET_KEY, jwtSecret, serviceToken]);
      const byKind = Object.fromEntries(
        Object.keys(KINDS).map((k) => [`kind_${k}`, plans.filter((p) => p.kind === k && p.reference).length]),
      );
      reportFigures("faults", {
        seed,
        payments_planned: n,
        ...byKind,
        ...figures,
        service_starts: svc.starts,
        service_crashes: svc.crashes.length,
        provider_pass_credited_now: Number(providerPass?.json.credited_now ?? -1),
        ...summary,
        service_log_lines: svc.lines.length,
        leaks: leaks.length,
        workload_seconds: Math.round(workloadMs / 100) / 10,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      });
      const at = `seed ${seed} (replay: FAULTS_SEED=${seed})`;
      assert.equal(providerPass?.status, 200, `${at}: provider pass ${JSON.stringify(providerPass?.json)}`);
      assert.equal(last?.status, 200, at);
      for (const p of plans) {
        if (!p.reference) continue;
        const audited = money.payments.get(p.reference);
        assert.ok(audited, `${at}: ${p.reference} missing`);
        if (p.kind === "paid" || p.kind === "late") {
          assert.ok(audited.state === "completed", `${at}: ${p.kind} ${p.reference} is ${audited.state}`);
          assert.equal(audited.credits, 1, `${at}: ${p.kind} ${p.reference}: ${audited.credits} credits`);
        } else {
          assert.equal(audited.state, "failed", `${at}: ${p.kind} ${p.reference} is ${audited.state}`);
          assert.equal(audited.credits, 0, `${at}: ${p.kind} ${p.reference} credited`);
        }
      }
      assert.deepEqual(money.lost, [], `${at}: lost (passes: ${JSON.stringify(passes)})`);
      assert.deepEqual(money.double, [], `${at}: credited twice`);
      assert.deepEqual(money.wronglyCredited, [], `${at}: credited without a matching success`);
      assert.deepEqual(money.mismatchNotFailed, [], `${at}: another amount paid, not failed for it`);
      assert.deepEqual(money.walletMismatches, [], `${at}: balances against the ledger`);
      assert.deepEqual(money.invariants, [], `${at}: check_ledger_invariants() ${JSON.stringify(money.invariants)}`);
      assert.ok(
        figures.kills > 0 && figures.pg_backends_terminated > 0 && figures.redis_stops > 0,
        `${at}: faults ran`,
      );
      // The audit above means something only for payments that got started: a few give up on initialize under the
      // faults (4 to 15 of 300 in ten runs), never most of them, and every kind is audited.
      assert.ok(figures.initialize_gave_up <= plans.length / 4, `${at}: ${figures.initialize_gave_up} gave up`);
      for (const kind of new Set(plans.map((p) => p.kind))) {
        assert.ok(plans.some((p) => p.kind === kind && p.reference), `${at}: no ${kind} payment was started`);
      }
      // A crash is restarted as an orchestrator would (so the audit still means something), and fails the suite.
      assert.deepEqual(svc.crashes.slice(0, 3), [], `${at}: the service died without being killed`);
      assert.deepEqual(internalErrors.slice(0, 5), [], `${at}: 500 internal_error answers`);
      assert.deepEqual(leaks, [], `${at}: secrets, tokens, signatures or e-mails in the service's logs`);
    } finally {
      await service?.close();
      await sandbox?.close();
      await server?.shutdown();
      await audit?.close();
      await sandboxDb?.close();
      await database?.close();
      await redis?.close();
    }
  },
});
