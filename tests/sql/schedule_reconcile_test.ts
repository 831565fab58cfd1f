/**
 * The schedule_reconcile migration: nothing where pg_cron, pg_net and Vault
 * are missing (here), and on a database that has them (stand-ins of their
 * functions, with the signatures Supabase's extensions have) one cron job
 * that POSTs to the reconcile endpoint with the service-role key read from
 * Vault at run time, never stored in the migration or the job.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/test_db.ts";

const MIGRATION = new URL("../../supabase/migrations/20261128120000_schedule_reconcile.sql", import.meta.url);

/** pg_cron's, pg_net's and Vault's entry points as Supabase has them, recording their calls. */
const STAND_INS = `
  create schema cron;
  create table cron.jobs_seen (jobname text primary key, schedule text, command text);
  create function cron.schedule(job_name text, schedule text, command text) returns bigint
  language sql as $$
    insert into cron.jobs_seen values (job_name, schedule, command)
    on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command;
    select 1::bigint
  $$;
  create schema net;
  create table net.requests_seen (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_ms integer);
  create function net.http_post(
    url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}',
    timeout_milliseconds integer default 5000
  ) returns bigint
  language sql as $$
    insert into net.requests_seen (url, body, headers, timeout_ms) values (url, body, headers, timeout_milliseconds)
    returning id
  $$;
  create schema vault;
  create table vault.secrets_seen (name text primary key, decrypted_secret text);
  create view vault.decrypted_secrets as select name, decrypted_secret from vault.secrets_seen;
`;

Deno.test("schedule_reconcile migration", async (t) => {
  const database = await createTestDatabase();
  const { db } = database;
  const migration = await Deno.readTextFile(MIGRATION);
  try {
    await t.step("without pg_cron, pg_net and Vault it schedules nothing and creates nothing", async () => {
      const [row] = await db.query<{ fn: string | null; cron: string | null }>(
        "select to_regprocedure('private.request_reconcile(text)')::text as fn, to_regnamespace('cron')::text as cron",
      );
      assert.deepEqual(row, { fn: null, cron: null });
    });

    await t.step(
      "with them: the payments pass every minute, the provider pass hourly; again → the same two",
      async () => {
        await db.exec(STAND_INS);
        await db.exec(migration);
        await db.exec(migration);
        assert.deepEqual(await db.query("select jobname, schedule, command from cron.jobs_seen order by jobname"), [
          {
            jobname: "payments-provider-reconcile",
            schedule: "7 * * * *",
            command: "select private.request_reconcile('?scope=provider')",
          },
          { jobname: "payments-reconcile", schedule: "* * * * *", command: "select private.request_reconcile()" },
        ]);
        assert.ok(!/eyJ|sb_secret_/.test(migration), "a key in the migration");
      },
    );

    await t.step("a run before the Vault secrets are set sends nothing", async () => {
      const [row] = await db.query<{ id: string | null }>("select private.request_reconcile() as id");
      assert.equal(row!.id, null);
      assert.deepEqual(await db.query("select * from net.requests_seen"), []);
    });

    await t.step("a run with them POSTs to the endpoint with the service-role key as bearer", async () => {
      await db.query(
        "insert into vault.secrets_seen values ('payments_url', $1), ('payments_service_key', $2)",
        ["https://ref.supabase.co/functions/v1/payments/", "sb_secret_test"],
      );
      for (const job of await db.query<{ command: string }>("select command from cron.jobs_seen order by jobname")) {
        await db.query(job.command);
      }
      const sent = await db.query<{ url: string; headers: Record<string, string>; timeout_ms: number }>(
        "select url, headers, timeout_ms from net.requests_seen order by id",
      );
      const headers = { Authorization: "Bearer sb_secret_test", "Content-Type": "application/json" };
      assert.deepEqual(sent, [
        {
          url: "https://ref.supabase.co/functions/v1/payments/v1/jobs/reconcile?scope=provider",
          headers,
          timeout_ms: 55000,
        },
        { url: "https://ref.supabase.co/functions/v1/payments/v1/jobs/reconcile", headers, timeout_ms: 55000 },
      ]);
    });

    await t.step("only the job's owner may run it: not the API roles", async () => {
      const rows = await db.query<{ role: string; allowed: boolean }>(
        `select r as role, has_function_privilege(r, 'private.request_reconcile(text)', 'execute') as allowed
           from unnest(array['anon', 'authenticated', 'service_role']) as r`,
      );
      assert.deepEqual(rows.map((r) => r.allowed), [false, false, false]);
    });
  } finally {
    await database.close();
  }
});
