-- =============================================================================
-- Idempotent payment initialization (Stripe/Brandur style, IETF
-- Idempotency-Key draft). Two atomic phases around the provider call:
--
--   begin_payment_request     claim (user_id, key); create the payment row
--                             → recovery point payment_created
--   (provider initialize, with our reference: a retry reuses it)
--   complete_payment_request  store provider data + the response
--                             → recovery point finished (replayed from now on)
--   release_payment_request   provider unreachable: unlock, keep the recovery
--                             point, so the retry resumes from it
--   open_provider_attempt     the provider already knows the reference but
--                             its checkout was lost with a crash: a new
--                             provider transaction under `<reference>.r<n>`
--
-- Lock order: idempotency_keys row, then payment_logs row.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- begin_payment_request. `insert … on conflict do nothing` + `select … for
-- update` makes two concurrent requests with one key meet on a single row:
-- the second waits for the first to commit, then sees it locked
-- (in_progress). The lock clock is clock_timestamp(), not now(): the waiting
-- transaction started before the other one committed its locked_at.
-- -----------------------------------------------------------------------------
create function public.begin_payment_request(
  p_user_id uuid,
  p_idempotency_key text,
  p_fingerprint text,
  p_method text,
  p_path text,
  p_amount bigint,
  p_currency text,
  p_email text default null,
  p_metadata jsonb default '{}'::jsonb,
  p_provider text default 'paystack',
  p_lock_timeout_seconds integer default 60,
  p_retention_hours integer default 24
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_key public.idempotency_keys;
  v_payment public.payment_logs;
  v_now timestamptz;
  v_outcome text;
  v_metadata jsonb := coalesce(p_metadata, '{}'::jsonb);
begin
  if p_user_id is null or p_fingerprint is null or p_method is null or p_path is null then
    raise exception using errcode = 'PM008', message = 'User, fingerprint, method and path are required';
  end if;
  if p_idempotency_key is null or length(p_idempotency_key) not between 1 and 255 then
    raise exception using errcode = 'PM008', message = 'Idempotency key must be 1 to 255 characters';
  end if;
  -- Amounts travel as JSON numbers: keep them exact in a double.
  if p_amount is null or p_amount <= 0 or p_amount > 9007199254740991 then
    raise exception using errcode = 'PM008', message = format('Amount must be a positive integer, got %s', p_amount);
  end if;
  if p_currency is null or p_currency !~ '^[A-Z]{3}$' then
    raise exception using errcode = 'PM008', message = format('Currency must be an ISO 4217 code, got %s', p_currency);
  end if;
  if pg_catalog.jsonb_typeof(v_metadata) <> 'object' then
    raise exception using errcode = 'PM008', message = 'Metadata must be a JSON object';
  end if;
  if coalesce(p_lock_timeout_seconds, 0) <= 0 or coalesce(p_retention_hours, 0) <= 0 then
    raise exception using errcode = 'PM008', message = 'Lock timeout and retention must be positive';
  end if;
  if p_provider is null or length(p_provider) not between 1 and 50 then
    raise exception using errcode = 'PM008', message = 'Provider must be 1 to 50 characters';
  end if;

  insert into public.idempotency_keys (user_id, key, request_method, request_path, request_fingerprint, expires_at)
  values (p_user_id, p_idempotency_key, p_method, p_path, p_fingerprint,
          now() + pg_catalog.make_interval(hours => p_retention_hours))
  on conflict (user_id, key) do nothing;

  select * into v_key
    from public.idempotency_keys
   where user_id = p_user_id and key = p_idempotency_key
     for update;
  v_now := pg_catalog.clock_timestamp();

  -- Past its published retention the key is free again: a brand-new request.
  -- The old payment keeps existing, detached from the key.
  if v_key.expires_at < v_now then
    update public.idempotency_keys
       set request_method = p_method,
           request_path = p_path,
           request_fingerprint = p_fingerprint,
           locked_at = null,
           recovery_point = 'started',
           payment_log_id = null,
           response_status = null,
           response_body = null,
           created_at = v_now,
           last_run_at = v_now,
           expires_at = v_now + pg_catalog.make_interval(hours => p_retention_hours)
     where id = v_key.id
    returning * into v_key;
  end if;

  if v_key.request_fingerprint <> p_fingerprint then
    return pg_catalog.jsonb_build_object('outcome', 'mismatch');
  end if;

  if v_key.response_status is not null then
    return pg_catalog.jsonb_build_object(
      'outcome', 'replay', 'status', v_key.response_status, 'body', v_key.response_body);
  end if;

  if v_key.locked_at is not null
    and v_key.locked_at > v_now - pg_catalog.make_interval(secs => p_lock_timeout_seconds)
  then
    return pg_catalog.jsonb_build_object(
      'outcome', 'in_progress',
      'retry_after_seconds', least(p_lock_timeout_seconds, greatest(1, ceil(
        p_lock_timeout_seconds - extract(epoch from v_now - v_key.locked_at)))::integer));
  end if;

  -- Free, or its holder is presumed dead (stale lock): take it.
  if v_key.recovery_point = 'started' then
    perform private._set_actor('api', 'initialize');
    insert into public.payment_logs (user_id, reference, idempotency_key, provider, amount, currency, email, metadata)
    values (p_user_id, 'pay-' || replace(gen_random_uuid()::text, '-', ''), p_idempotency_key, p_provider,
            p_amount, p_currency, p_email, v_metadata)
    returning * into v_payment;
    update public.idempotency_keys
       set locked_at = v_now, last_run_at = v_now, recovery_point = 'payment_created', payment_log_id = v_payment.id
     where id = v_key.id;
    v_outcome := 'created';
  else
    select * into v_payment from public.payment_logs where id = v_key.payment_log_id;
    if not found then
      raise exception using
        errcode = 'PM004',
        message = format('Idempotency key %s points at a missing payment', p_idempotency_key);
    end if;
    update public.idempotency_keys set locked_at = v_now, last_run_at = v_now where id = v_key.id;
    -- Never hand out a checkout for a payment that is no longer pending (e.g.
    -- reconciliation failed it as abandoned while the key was unfinished):
    -- the caller stores a problem as this key's answer instead.
    v_outcome := case when v_payment.state = 'pending' then 'resumed' else 'not_payable' end;
  end if;
  return pg_catalog.jsonb_build_object('outcome', v_outcome, 'payment', private._payment_json(v_payment));
end
$$;

-- -----------------------------------------------------------------------------
-- complete_payment_request. Under the key's row lock, the first completion
-- wins: a stale holder finishing after a takeover gets the stored response,
-- not a second one. A definite provider refusal fails the payment (it can
-- never be paid), in the same transaction that stores the response.
-- -----------------------------------------------------------------------------
create function public.complete_payment_request(
  p_user_id uuid,
  p_idempotency_key text,
  p_response_status integer,
  p_response_body jsonb,
  p_authorization_url text default null,
  p_access_code text default null,
  p_failure_reason text default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_key public.idempotency_keys;
begin
  if p_response_status is null or p_response_status not between 100 and 599 then
    raise exception using errcode = 'PM008', message = format('Invalid response status %s', p_response_status);
  end if;
  select * into v_key
    from public.idempotency_keys
   where user_id = p_user_id and key = p_idempotency_key
     for update;
  if not found then
    raise exception using errcode = 'PM008', message = format('No idempotency record for key %s', p_idempotency_key);
  end if;
  if v_key.recovery_point = 'finished' then
    return pg_catalog.jsonb_build_object('status', v_key.response_status, 'body', v_key.response_body);
  end if;

  -- One UPDATE (one version bump): provider data, and the failure if any.
  if v_key.payment_log_id is not null
    and (p_authorization_url is not null or p_access_code is not null or p_failure_reason is not null)
  then
    perform private._set_actor('provider', p_failure_reason);
    update public.payment_logs
       set authorization_url = coalesce(p_authorization_url, authorization_url),
           access_code = coalesce(p_access_code, access_code),
           state = case when p_failure_reason is not null and state = 'pending'
                        then 'failed'::public.payment_state else state end,
           failure_reason = case when p_failure_reason is not null and state = 'pending'
                                 then p_failure_reason else failure_reason end
     where id = v_key.payment_log_id;
  end if;

  update public.idempotency_keys
     set response_status = p_response_status,
         response_body = p_response_body,
         recovery_point = 'finished',
         locked_at = null
   where id = v_key.id;
  return pg_catalog.jsonb_build_object('status', p_response_status, 'body', p_response_body);
end
$$;

-- -----------------------------------------------------------------------------
-- release_payment_request: the provider could not be reached (network error,
-- 5xx). Unlock now instead of making the client wait for the lock timeout;
-- the recovery point stays, so the retry resumes with the same payment and
-- reference.
-- -----------------------------------------------------------------------------
create function public.release_payment_request(p_user_id uuid, p_idempotency_key text) returns void
language sql
volatile
security definer
set search_path = ''
as $$
  update public.idempotency_keys
     set locked_at = null
   where user_id = p_user_id and key = p_idempotency_key and recovery_point <> 'finished'
$$;

-- -----------------------------------------------------------------------------
-- open_provider_attempt: initialization crashed after the provider opened a
-- transaction under our reference but before its checkout was stored. The
-- retry's initialize answers "Duplicate Transaction Reference", and Paystack
-- cannot hand that checkout back (verify carries no access code). Nobody saw
-- the lost checkout, so nobody can pay it; a new provider transaction under
-- `<reference>.r<n>` replaces it. Webhooks resolve every attempt's reference
-- to this payment (_payment_by_provider_reference) and are confirmed against
-- the reference they name, so even a payment of an earlier attempt would be
-- credited; verify and reconciliation ask about the current attempt. Only a
-- pending payment gets a new attempt: the answer carries the unchanged
-- payment otherwise.
-- -----------------------------------------------------------------------------
create function public.open_provider_attempt(p_reference text) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs := private._lock_payment(p_reference, null);
begin
  if v.state = 'pending' then
    update public.payment_logs
       set provider_attempt = provider_attempt + 1,
           provider_reference = reference || '.r' || (provider_attempt + 1)
     where id = v.id
    returning * into v;
  end if;
  return private._payment_json(v);
end
$$;

-- -----------------------------------------------------------------------------
-- purge_idempotency_keys: the reaper. Deletes records past their retention
-- unless a request still holds them; a lock older than one hour is stale (the
-- lock timeout is a minute) and does not protect a record.
-- -----------------------------------------------------------------------------
create function public.purge_idempotency_keys() returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  delete from public.idempotency_keys
   where expires_at < now()
     and (locked_at is null or locked_at < now() - interval '1 hour');
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

revoke execute on function
  public.begin_payment_request(uuid, text, text, text, text, bigint, text, text, jsonb, text, integer, integer),
  public.complete_payment_request(uuid, text, integer, jsonb, text, text, text),
  public.release_payment_request(uuid, text),
  public.open_provider_attempt(text),
  public.purge_idempotency_keys()
  from public, anon, authenticated;

grant execute on function
  public.begin_payment_request(uuid, text, text, text, text, bigint, text, text, jsonb, text, integer, integer),
  public.complete_payment_request(uuid, text, integer, jsonb, text, text, text),
  public.release_payment_request(uuid, text),
  public.open_provider_attempt(text),
  public.purge_idempotency_keys()
  to service_role;
