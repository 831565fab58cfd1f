-- =============================================================================
-- Scheduled reconciliation in production: pg_cron calls the service's
-- POST /v1/jobs/reconcile through pg_net, as the service role: the
-- stuck-payment pass every minute, the provider-window pass
-- (?scope=provider) every hour.
--
-- Only where pg_cron and pg_net exist (a Supabase project): anywhere else
-- (plain Postgres, PGlite, the test databases) this migration changes nothing
-- and says so in a NOTICE; there `deno task reconcile --every 60s` runs the
-- same pass on a timer.
--
-- No secret in here. The jobs read two Vault secrets when they run, so the
-- schedule exists from the first deploy and starts calling once they are set
-- (README, "Deploy on Supabase Edge Functions"):
--   payments_url           https://<ref>.supabase.co/functions/v1/payments
--   payments_service_key   the project's service-role key
-- Until both exist a run does nothing (a NOTICE in cron.job_run_details).
--
-- Why every minute: payments stuck in pending/processing past their
-- thresholds (15 and 5 minutes) are the work; each pass is bounded
-- (RECONCILE_BATCH_SIZE) and the payment lock keeps overlapping passes from
-- doing the same work twice. The provider pass lists the provider's
-- transactions (API calls): hourly, off the top of the hour.
-- =============================================================================

do $migration$
begin
  -- Enable the extensions where the server offers them (no-op when enabled).
  -- A server that lists pg_cron without preloading it refuses: then skip.
  begin
    if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
      create extension if not exists pg_cron;
    end if;
    if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
      create extension if not exists pg_net with schema extensions;
    end if;
  exception when others then
    raise notice 'schedule_reconcile: pg_cron/pg_net cannot be enabled here (%): not scheduled', sqlerrm;
    return;
  end;

  if to_regprocedure('cron.schedule(text, text, text)') is null
    or to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null
    or to_regclass('vault.decrypted_secrets') is null then
    raise notice 'schedule_reconcile: no pg_cron, pg_net or Vault here: reconciliation is not scheduled '
      '(run deno task reconcile --every 60s)';
    return;
  end if;

  -- ---------------------------------------------------------------------------
  -- private.request_reconcile(query): one asynchronous POST to
  -- <payments_url>/v1/jobs/reconcile<query> (pg_net queues it; the answer
  -- lands in net._http_response). Returns the request id, or null when the
  -- Vault secrets are not set yet. Only the jobs' owner runs it: nobody else
  -- may make the database call the service with its key.
  -- ---------------------------------------------------------------------------
  execute $fn$
    create or replace function private.request_reconcile(p_query text default '') returns bigint
    language plpgsql
    security invoker
    set search_path = ''
    as $body$
    declare
      v_url text;
      v_key text;
    begin
      select decrypted_secret into v_url from vault.decrypted_secrets where name = 'payments_url';
      select decrypted_secret into v_key from vault.decrypted_secrets where name = 'payments_service_key';
      if v_url is null or v_key is null then
        raise notice 'request_reconcile: set the Vault secrets payments_url and payments_service_key';
        return null;
      end if;
      return net.http_post(
        url := rtrim(v_url, '/') || '/v1/jobs/reconcile' || p_query,
        body := '{}'::jsonb,
        params := '{}'::jsonb,
        headers := jsonb_build_object('Authorization', 'Bearer ' || v_key, 'Content-Type', 'application/json'),
        -- A pass holds the payment locks for at most a few seconds each; well within the minute.
        timeout_milliseconds := 55000
      );
    end;
    $body$
  $fn$;
  revoke all on function private.request_reconcile(text) from public;
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
    revoke all on function private.request_reconcile(text) from anon, authenticated, service_role;
  end if;

  -- The same name again replaces a job: re-running the migration does not add a second one.
  perform cron.schedule('payments-reconcile', '* * * * *', 'select private.request_reconcile()');
  perform cron.schedule(
    'payments-provider-reconcile',
    '7 * * * *',
    $$select private.request_reconcile('?scope=provider')$$
  );
end;
$migration$;
