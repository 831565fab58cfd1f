/**
 * The service process survives Postgres terminating its backends: the local
 * RPC gateway's driver (npm:postgres 3.4.9 under Deno's node compat) used to
 * end the whole process with an uncaught error from a write queued after the
 * server closed the connection (src/db/sql_client.ts now drops exactly those
 * connection-level errors; the queries on those connections fail on their
 * own and the clients get 503s they can retry).
 */
import assert from "node:assert/strict";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { ignoreWithout } from "../support/services.ts";
import { createTestDatabase } from "../support/test_db.ts";
import { freePort } from "../support/free_port.ts";
import { startServiceProcess } from "./support/service_process.ts";

const name = "the service survives its Postgres backends being terminated (pg_terminate_backend) under load";

Deno.test({
  name,
  ignore: await ignoreWithout(["postgres"], name, "it terminates real Postgres backends"),
  async fn() {
    const database = await createTestDatabase();
    const audit = database.connect({ max: 1, applicationName: "reliability-audit" });
    const jwtSecret = `reliability-${crypto.randomUUID()}`;
    const service = await startServiceProcess(freePort(), {
      APP_ENV: "test",
      DATABASE_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${freePort()}`, // no Redis: the lock degrades, irrelevant here
      PAYSTACK_BASE_URL: "http://127.0.0.1:9/unused",
      JWT_SECRET: jwtSecret,
    });
    try {
      const token = await signDevToken({ secret: jwtSecret, userId: crypto.randomUUID() });
      let stop = false;
      const load = Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 400 && !stop && service.crashes.length === 0; i++) {
          try {
            const res = await fetch(`${service.url}/v1/wallet`, { headers: { Authorization: `Bearer ${token}` } });
            await res.body?.cancel();
          } catch { /* the process died under us */ }
        }
      });
      let terminated = 0;
      for (let round = 0; round < 40 && service.crashes.length === 0; round++) {
        const [row] = await audit.query<{ n: string }>(
          `select count(pg_terminate_backend(pid))::int8 as n from pg_stat_activity
            where datname = current_database() and application_name = 'sms-payments'`,
        );
        terminated += Number(row!.n);
        const res = await fetch(`${service.url}/health`).catch(() => null);
        await res?.body?.cancel();
      }
      stop = true;
      await Promise.all(load);
      console.log(`terminated ${terminated} backends; crashes: ${service.crashes.length}`);
      assert.ok(terminated > 0, "no backend of the service was terminated: the test proved nothing");
      // Serving from the database again after the last termination (a 503 while a pool connection is replaced is
      // fine), and by then a crash it caused would have been recorded.
      let status = 0;
      for (const deadline = Date.now() + 10_000; status !== 200 && Date.now() < deadline;) {
        const after = await fetch(`${service.url}/v1/wallet`, { headers: { Authorization: `Bearer ${token}` } });
        status = after.status;
        await after.body?.cancel();
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 200, "the service does not serve from the database again");
      assert.deepEqual(service.crashes.slice(0, 1), [], "the service process died by itself");
    } finally {
      await service.close();
      await audit.close();
      await database.close();
    }
  },
});
