-- =============================================================================
-- Refunds and debits: money going back to the customer, and credit spent by
-- the SMS platform. Every step is one transaction that locks, in the
-- documented order, webhook_events row → payment_logs row → refunds row →
-- wallets row, so none of these functions can deadlock with the credit path.
--
-- Refunds are asynchronous at the provider, so a refund is a small state
-- machine of its own (see the refunds table) and the steps are ordered so a
-- crash anywhere leaves a state a retry or reconciliation completes:
--
--   begin_refund              reserve the amount (wallets.held) and record
--                             the refund, pending — nothing sent yet
--   claim_refund_submission   one caller at a time may call the provider;
--                             a second attempt first looks the refund up at
--                             the provider (by its merchant note), because
--                             the first may have reached it
--   apply_refund_status       the provider's word (its answer, a verified
--                             refund.* webhook, or reconciliation): processed
--                             → ledger `refund` entry, balance debited,
--                             refunded_amount raised, reservation released,
--                             payment refunded when fully refunded; failed or
--                             refused → reservation released
--
-- No debit without a provider refund (the ledger entry waits for
-- `processed`), no provider refund without a ledger entry (a processed refund
-- is applied whoever learns it first), and no double debit (one ledger entry
-- per refund, by its idempotency key).
--
-- debit_wallet spends credit: one transaction on the locked wallet row,
-- never below what is reserved for refunds.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- _refund_json: a refund as the API shows it.
-- -----------------------------------------------------------------------------
create function private._refund_json(r public.refunds) returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'id', r.id,
    'payment_reference', p.reference,
    'provider_transaction', coalesce(p.provider_payload ->> 'reference', p.provider_reference),
    'user_id', r.user_id,
    'amount', r.amount,
    'currency', r.currency,
    'reason', r.reason,
    'state', r.state,
    'refund_request_id', r.refund_request_id,
    'provider_refund_id', r.provider_refund_id,
    'provider_status', r.provider_status,
    'failure_reason', r.failure_reason,
    'submit_attempts', r.submit_attempts,
    'created_at', private._iso(r.created_at),
    'updated_at', private._iso(r.updated_at),
    'submitted_at', private._iso(r.submitted_at),
    'settled_at', private._iso(r.settled_at))
  from public.payment_logs p
  where p.id = r.payment_log_id
$$;

-- -----------------------------------------------------------------------------
-- _refund_replay: the answer to a request whose key made a refund before. The
-- same key with another request (payment, amount or reason) is refused: the
-- caller reused a key by mistake and must not get someone else's answer.
-- -----------------------------------------------------------------------------
create function private._refund_replay(r public.refunds, p_fingerprint text) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  if r.request_fingerprint <> p_fingerprint then
    raise exception using
      errcode = 'PM009',
      message = 'This Idempotency-Key was already used with a different refund request';
  end if;
  return pg_catalog.jsonb_build_object('outcome', 'existing', 'refund', private._refund_json(r));
end
$$;

-- -----------------------------------------------------------------------------
-- begin_refund: reserve and record a refund (state pending). Under the
-- payment's row lock, so two refunds of one payment cannot both fit in what
-- is left; the wallet is locked next, so the reservation and the spendable
-- balance it is checked against cannot race a debit or another refund.
--   amount       null = everything still refundable; otherwise 1 ≤ amount ≤
--                amount − refunded − in flight                     (PM005)
--   the credit   balance − held must cover it: credit already spent cannot
--                be refunded, and nothing is written               (PM006)
--   the payment  completed (or partly refunded)                    (PM010)
-- A refund_requests row, when given, is marked in the same transaction.
-- -----------------------------------------------------------------------------
create function public.begin_refund(
  p_reference text,
  p_amount bigint,
  p_reason text,
  p_request_key text,
  p_fingerprint text,
  p_refund_request_id uuid default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_wallet public.wallets;
  v_refund public.refunds;
  v_in_flight bigint;
  v_remaining bigint;
  v_amount bigint;
begin
  if p_reason is null or length(p_reason) not between 1 and 500 then
    raise exception using errcode = 'PM008', message = 'A refund reason of 1 to 500 characters is required';
  end if;
  if p_request_key is null or length(p_request_key) not between 1 and 400 or p_fingerprint is null then
    raise exception using errcode = 'PM008', message = 'A request key and fingerprint are required';
  end if;
  if p_amount is not null and (p_amount <= 0 or p_amount > 9007199254740991) then
    raise exception using errcode = 'PM008', message = format('Refund amount must be a positive integer, got %s', p_amount);
  end if;

  select * into v_refund from public.refunds where request_key = p_request_key;
  if found then
    return private._refund_replay(v_refund, p_fingerprint);
  end if;

  v := private._lock_payment(p_reference, null);
  -- Again under the payment's lock: a concurrent request with this key may
  -- have committed while we waited for it.
  select * into v_refund from public.refunds where request_key = p_request_key;
  if found then
    return private._refund_replay(v_refund, p_fingerprint);
  end if;

  if p_refund_request_id is not null then
    -- The staff request must be pending, unanswered and about this payment:
    -- a refused request is never revived by a redelivery.
    perform 1
       from public.refund_requests
      where id = p_refund_request_id and status = 'pending' and refund_id is null and payment_reference = v.reference
        for update;
    if not found then
      raise exception using
        errcode = 'PM008',
        message = format('Refund request %s is not a pending request for payment %s', p_refund_request_id, v.reference);
    end if;
  end if;
  if v.state not in ('completed', 'refunded') then
    raise exception using
      errcode = 'PM010',
      message = format('Payment %s is %s: only a completed payment can be refunded', v.reference, v.state);
  end if;
  select coalesce(sum(r.amount), 0) into v_in_flight
    from public.refunds r
   where r.payment_log_id = v.id and r.state in ('pending', 'processing', 'needs_attention');
  v_remaining := v.amount - v.refunded_amount - v_in_flight;
  v_amount := coalesce(p_amount, v_remaining);
  if v_amount <= 0 or v_amount > v_remaining then
    raise exception using
      errcode = 'PM005',
      message = format('Cannot refund %s %s of payment %s: %s %s is refundable (%s refunded, %s in flight)',
                       v_amount, v.currency, v.reference, greatest(v_remaining, 0), v.currency,
                       v.refunded_amount, v_in_flight);
  end if;

  select * into v_wallet
    from public.wallets
   where user_id = v.user_id and currency = v.currency
     for update;
  if v_wallet.id is null or v_wallet.balance - v_wallet.held < v_amount then
    raise exception using
      errcode = 'PM006',
      message = format('Cannot refund %s %s: only %s %s of the credit is unspent', v_amount, v.currency,
                       coalesce(v_wallet.balance - v_wallet.held, 0), v.currency);
  end if;

  insert into public.refunds
    (payment_log_id, user_id, wallet_id, amount, currency, reason, request_key, request_fingerprint, refund_request_id)
  values
    (v.id, v.user_id, v_wallet.id, v_amount, v.currency, p_reason, p_request_key, p_fingerprint, p_refund_request_id)
  returning * into v_refund;
  update public.wallets
     set held = held + v_amount, lock_version = lock_version + 1, updated_at = now()
   where id = v_wallet.id;
  if p_refund_request_id is not null then
    update public.refund_requests set status = 'processing', refund_id = v_refund.id where id = p_refund_request_id;
  end if;
  return pg_catalog.jsonb_build_object('outcome', 'created', 'refund', private._refund_json(v_refund));
end
$$;

-- -----------------------------------------------------------------------------
-- refuse_refund_request: a refund_requests row that could not become a refund
-- (nothing to refund, credit spent, payment not completed) records why, so
-- staff see the answer where they asked and a redelivery finds it handled.
-- -----------------------------------------------------------------------------
create function public.refuse_refund_request(p_refund_request_id uuid, p_failure_reason text) returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  with refused as (
    update public.refund_requests
       set status = 'failed', failure_reason = p_failure_reason, processed_at = now()
     where id = p_refund_request_id and refund_id is null and status = 'pending'
    returning 1
  )
  select exists (select 1 from refused)
$$;

-- -----------------------------------------------------------------------------
-- claim_refund_submission: the one caller allowed to call the provider for a
-- pending refund (like an idempotency key's locked_at, in SQL so it holds
-- with Redis down). A claim older than p_claim_seconds belongs to a caller
-- presumed dead and may be taken over. submit_attempts > 1 tells the new
-- holder that an earlier attempt may have reached the provider.
-- -----------------------------------------------------------------------------
create function public.claim_refund_submission(p_refund_id uuid, p_claim_seconds integer default 60) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.refunds;
begin
  update public.refunds
     set submitting_at = pg_catalog.clock_timestamp(), submit_attempts = submit_attempts + 1, updated_at = now()
   where id = p_refund_id
     and state = 'pending'
     and (submitting_at is null
          or submitting_at < pg_catalog.clock_timestamp()
                             - pg_catalog.make_interval(secs => greatest(coalesce(p_claim_seconds, 60), 1)))
  returning * into v;
  if found then
    return pg_catalog.jsonb_build_object('claimed', true, 'refund', private._refund_json(v));
  end if;
  select * into v from public.refunds where id = p_refund_id;
  return pg_catalog.jsonb_build_object(
    'claimed', false, 'refund', case when v.id is null then null else private._refund_json(v) end);
end
$$;

-- -----------------------------------------------------------------------------
-- release_refund_claim: the provider could not be reached. The refund stays
-- pending (reserved) and the next attempt may start at once; it will look
-- the refund up at the provider before sending it again.
-- -----------------------------------------------------------------------------
create function public.release_refund_claim(p_refund_id uuid) returns void
language sql
volatile
security definer
set search_path = ''
as $$
  update public.refunds set submitting_at = null, updated_at = now() where id = p_refund_id and state = 'pending'
$$;

-- -----------------------------------------------------------------------------
-- apply_refund_status: the provider's word on a refund, applied once. The
-- caller asked the provider (its answer to the refund call, GET /refund/:id
-- after a signed refund.* webhook, or reconciliation): the webhook's own
-- payload is never the source. A webhook event passed along is recorded and
-- marked processed in this same transaction (its durable dedupe record).
--   pending / processing  → processing (the provider has it)
--   needs-attention       → needs_attention (still reserved)
--   processed             → ledger refund entry, balance − amount, held −
--                           amount, refunded_amount + amount, the payment
--                           refunded when nothing is left, refund processed
--   failed / rejected     → held − amount, refund failed (rejected: the
--                           provider refused the refund call itself)
-- processed and failed are final: anything after them changes nothing.
-- -----------------------------------------------------------------------------
create function public.apply_refund_status(
  p_refund_id uuid,
  p_provider_refund_id text,
  p_status text,
  p_provider_payload jsonb default null,
  p_failure_reason text default null,
  p_actor text default 'system',
  p_event_provider text default null,
  p_event_key text default null,
  p_event_type text default null,
  p_event_payload jsonb default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event_id uuid;
  v_refund public.refunds;
  v public.payment_logs;
  v_wallet public.wallets;
  v_changed boolean := false;
  v_state public.refund_state;
begin
  if p_status is null or p_status not in ('pending', 'processing', 'needs-attention', 'processed', 'failed', 'rejected') then
    raise exception using errcode = 'PM008', message = format('Unknown refund status %s', p_status);
  end if;
  if p_refund_id is null and p_provider_refund_id is null then
    raise exception using errcode = 'PM008', message = 'A refund id or a provider refund id is required';
  end if;
  if p_event_key is not null then
    insert into public.webhook_events as e (provider, event_key, event_type, reference, payload)
    values (coalesce(p_event_provider, 'unknown'), p_event_key, coalesce(p_event_type, 'unknown'), null,
            coalesce(p_event_payload, '{}'::jsonb))
    on conflict (provider, event_key) do update set attempts = e.attempts + 1
    returning id into v_event_id;
  end if;

  select * into v_refund
    from public.refunds
   where (p_refund_id is not null and id = p_refund_id)
      or (p_refund_id is null and provider_refund_id = p_provider_refund_id);
  if not found then
    perform private._finish_webhook_event(v_event_id, 'unknown_refund');
    return pg_catalog.jsonb_build_object('changed', false, 'refund', null);
  end if;

  -- Lock order: payment → refund → wallet.
  select * into v from public.payment_logs where id = v_refund.payment_log_id for update;
  select * into v_refund from public.refunds where id = v_refund.id for update;
  if p_provider_refund_id is not null and v_refund.provider_refund_id is not null
    and v_refund.provider_refund_id <> p_provider_refund_id
  then
    raise exception using
      errcode = 'PM008',
      message = format('Refund %s is provider refund %s, not %s', v_refund.id, v_refund.provider_refund_id,
                       p_provider_refund_id);
  end if;

  if v_refund.state in ('pending', 'processing', 'needs_attention') then
    v_state := case p_status
      when 'pending' then 'processing'
      when 'processing' then 'processing'
      when 'needs-attention' then 'needs_attention'
      when 'processed' then 'processed'
      else 'failed'
    end;
    v_changed := v_state is distinct from v_refund.state;

    if v_state in ('processed', 'failed') then
      select * into v_wallet from public.wallets where id = v_refund.wallet_id for update;
    end if;
    if v_state = 'processed' then
      insert into public.sms_transactions
        (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after,
         refund_id, reason, created_at)
      values
        ('refund-' || v_refund.id, 'refund:' || v_refund.id, v.id, v.user_id, v_wallet.id, 'refund', v_refund.amount,
         v_refund.currency, v_wallet.balance - v_refund.amount, v_refund.id, v_refund.reason,
         pg_catalog.clock_timestamp());
      update public.wallets
         set balance = balance - v_refund.amount, held = held - v_refund.amount,
             lock_version = lock_version + 1, updated_at = now()
       where id = v_wallet.id;
      perform private._set_actor(p_actor, format('refund %s: %s', v_refund.id, v_refund.reason));
      update public.payment_logs
         set refunded_amount = refunded_amount + v_refund.amount,
             state = case when refunded_amount + v_refund.amount = amount then 'refunded'::public.payment_state
                          else state end
       where id = v.id;
      update public.refund_requests
         set status = 'succeeded', provider_refund_id = coalesce(p_provider_refund_id, v_refund.provider_refund_id),
             processed_at = now()
       where id = v_refund.refund_request_id;
    elsif v_state = 'failed' then
      update public.wallets
         set held = held - v_refund.amount, lock_version = lock_version + 1, updated_at = now()
       where id = v_wallet.id;
      update public.refund_requests
         set status = 'failed', failure_reason = coalesce(p_failure_reason, 'refund ' || p_status),
             provider_refund_id = coalesce(p_provider_refund_id, v_refund.provider_refund_id), processed_at = now()
       where id = v_refund.refund_request_id;
    end if;

    update public.refunds
       set state = v_state,
           provider_refund_id = coalesce(provider_refund_id, p_provider_refund_id),
           provider_status = case when p_status = 'rejected' then provider_status else p_status end,
           provider_payload = coalesce(p_provider_payload, provider_payload),
           failure_reason = case when v_state = 'failed'
                                 then coalesce(p_failure_reason, 'refund ' || p_status) else failure_reason end,
           submitting_at = null,
           submitted_at = case when p_status = 'rejected' then submitted_at else coalesce(submitted_at, now()) end,
           settled_at = case when v_state in ('processed', 'failed') then now() else settled_at end,
           updated_at = now()
     where id = v_refund.id
    returning * into v_refund;
  end if;

  perform private._finish_webhook_event(v_event_id, 'refund_updated');
  return pg_catalog.jsonb_build_object('changed', v_changed, 'refund', private._refund_json(v_refund));
end
$$;

-- -----------------------------------------------------------------------------
-- get_refund / list_refunds: one refund; a payment's refunds, oldest first
-- (its owner's, when p_user_id is given — someone else's payment is null).
-- -----------------------------------------------------------------------------
create function public.get_refund(p_refund_id uuid) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private._refund_json(r) from public.refunds r where r.id = p_refund_id
$$;

create function public.list_refunds(p_reference text, p_user_id uuid default null) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select case when p.id is null then null else (
    select coalesce(pg_catalog.jsonb_agg(private._refund_json(r) order by r.created_at, r.id), '[]'::jsonb)
    from public.refunds r
    where r.payment_log_id = p.id) end
  from (select 1) one
  left join public.payment_logs p
    on p.reference = p_reference and (p_user_id is null or p.user_id = p_user_id)
$$;

-- -----------------------------------------------------------------------------
-- refund_candidates: refunds still in flight past their thresholds, oldest
-- first: pending ones (never sent, or the answer was lost) and ones the
-- provider has not finished. Reconciliation asks the provider about each.
-- -----------------------------------------------------------------------------
create function public.refund_candidates(
  p_pending_older_than_seconds integer default 300,
  p_in_flight_older_than_seconds integer default 900,
  p_limit integer default 100
) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(private._refund_json(c) order by c.updated_at, c.id), '[]'::jsonb)
  from (
    select r.*
    from public.refunds r
    where (r.state = 'pending'
           and r.updated_at < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_pending_older_than_seconds, 300), 0)))
       or (r.state in ('processing', 'needs_attention')
           and r.updated_at < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_in_flight_older_than_seconds, 900), 0)))
    order by r.updated_at, r.id
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) c
$$;

-- -----------------------------------------------------------------------------
-- refund_request_candidates: staff requests no Database Webhook delivered
-- (pg_net does not retry) — still pending, no refund — past the threshold,
-- oldest first, as the webhook would carry them. Reconciliation handles them
-- exactly as a delivery would (the request id is the refund's request key).
-- -----------------------------------------------------------------------------
create function public.refund_request_candidates(
  p_older_than_seconds integer default 300,
  p_limit integer default 100
) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c) order by c.created_at, c.id), '[]'::jsonb)
  from (
    select q.*
    from public.refund_requests q
    where q.status = 'pending' and q.refund_id is null
      and q.created_at < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_older_than_seconds, 300), 0))
    order by q.created_at, q.id
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) c
$$;

-- -----------------------------------------------------------------------------
-- debit_wallet: the SMS platform spends credit. One transaction on the
-- locked wallet row; never below the amount reserved for refunds in flight
-- (PM006, nothing written). Idempotent per (user, Idempotency-Key): a replay
-- answers the first debit; the same key with another request is PM009.
-- -----------------------------------------------------------------------------
create function private._debit_json(t public.sms_transactions, p_replayed boolean) returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'replayed', p_replayed,
    'debit', pg_catalog.jsonb_build_object(
      'id', t.id, 'reference', t.reference, 'user_id', t.user_id, 'amount', t.amount, 'currency', t.currency,
      'reason', t.reason, 'balance_after', t.balance_after, 'created_at', private._iso(t.created_at)))
$$;

create function public.debit_wallet(
  p_user_id uuid,
  p_currency text,
  p_amount bigint,
  p_reason text,
  p_idempotency_key text,
  p_fingerprint text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_key text;
  v_entry public.sms_transactions;
  v_wallet public.wallets;
begin
  if p_user_id is null or p_currency is null or p_currency !~ '^[A-Z]{3}$' then
    raise exception using errcode = 'PM008', message = 'A user and an ISO 4217 currency are required';
  end if;
  if p_amount is null or p_amount <= 0 or p_amount > 9007199254740991 then
    raise exception using errcode = 'PM008', message = format('Debit amount must be a positive integer, got %s', p_amount);
  end if;
  if p_reason is null or length(p_reason) not between 1 and 500 then
    raise exception using errcode = 'PM008', message = 'A debit reason of 1 to 500 characters is required';
  end if;
  if p_idempotency_key is null or length(p_idempotency_key) not between 1 and 255 or p_fingerprint is null then
    raise exception using errcode = 'PM008', message = 'An idempotency key of 1 to 255 characters is required';
  end if;
  v_key := 'debit:' || p_user_id || ':' || p_idempotency_key;

  for attempt in 1..2 loop
    select * into v_entry from public.sms_transactions where idempotency_key = v_key;
    if found then
      if v_entry.request_fingerprint is distinct from p_fingerprint then
        raise exception using
          errcode = 'PM009',
          message = 'This Idempotency-Key was already used with a different debit';
      end if;
      return private._debit_json(v_entry, true);
    end if;
    exit when attempt = 2;
    -- Take the wallet lock, then look again: a concurrent request with this
    -- key may have committed while we waited.
    select * into v_wallet
      from public.wallets
     where user_id = p_user_id and currency = p_currency
       for update;
  end loop;

  if v_wallet.id is null or v_wallet.balance - v_wallet.held < p_amount then
    raise exception using
      errcode = 'PM006',
      message = format('Cannot debit %s %s: the spendable balance is %s %s', p_amount, p_currency,
                       coalesce(v_wallet.balance - v_wallet.held, 0), p_currency);
  end if;
  insert into public.sms_transactions
    (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after, reason,
     request_fingerprint, created_at)
  values
    ('debit-' || replace(gen_random_uuid()::text, '-', ''), v_key, null, p_user_id, v_wallet.id, 'debit', p_amount,
     p_currency, v_wallet.balance - p_amount, p_reason, p_fingerprint, pg_catalog.clock_timestamp())
  returning * into v_entry;
  update public.wallets
     set balance = balance - p_amount, lock_version = lock_version + 1, updated_at = now()
   where id = v_wallet.id;
  return private._debit_json(v_entry, false);
end
$$;

-- -----------------------------------------------------------------------------
-- Privileges.
-- -----------------------------------------------------------------------------
revoke execute on function
  private._refund_json(public.refunds),
  private._refund_replay(public.refunds, text),
  private._debit_json(public.sms_transactions, boolean)
  from public, anon, authenticated, service_role;

revoke execute on function
  public.begin_refund(text, bigint, text, text, text, uuid),
  public.refuse_refund_request(uuid, text),
  public.claim_refund_submission(uuid, integer),
  public.release_refund_claim(uuid),
  public.apply_refund_status(uuid, text, text, jsonb, text, text, text, text, text, jsonb),
  public.get_refund(uuid),
  public.list_refunds(text, uuid),
  public.refund_candidates(integer, integer, integer),
  public.refund_request_candidates(integer, integer),
  public.debit_wallet(uuid, text, bigint, text, text, text)
  from public, anon, authenticated;

grant execute on function
  public.begin_refund(text, bigint, text, text, text, uuid),
  public.refuse_refund_request(uuid, text),
  public.claim_refund_submission(uuid, integer),
  public.release_refund_claim(uuid),
  public.apply_refund_status(uuid, text, text, jsonb, text, text, text, text, text, jsonb),
  public.get_refund(uuid),
  public.list_refunds(text, uuid),
  public.refund_candidates(integer, integer, integer),
  public.refund_request_candidates(integer, integer),
  public.debit_wallet(uuid, text, bigint, text, text, text)
  to service_role;

-- -----------------------------------------------------------------------------
-- The Supabase Database Webhook on refund_requests INSERT. On real Supabase
-- (the supabase_functions schema exists) it calls the deployed function with
-- the shared secret header; the URL and the secret come from database
-- settings, never from this file:
--   alter database postgres set app.settings.refund_hook_url =
--     'https://<ref>.supabase.co/functions/v1/payments/v1/hooks/database';
--   alter database postgres set app.settings.db_webhook_secret = '<DB_WEBHOOK_SECRET>';
-- then run this migration (or re-run the block below). Plain Postgres and
-- PGlite have no supabase_functions schema and skip it; so does a database
-- without the settings (with a notice).
-- -----------------------------------------------------------------------------
do $$
declare
  v_url text := nullif(current_setting('app.settings.refund_hook_url', true), '');
  v_secret text := nullif(current_setting('app.settings.db_webhook_secret', true), '');
begin
  if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'supabase_functions') then
    return;
  end if;
  if v_url is null or v_secret is null then
    raise notice 'refund_requests webhook not created: set app.settings.refund_hook_url and app.settings.db_webhook_secret';
    return;
  end if;
  execute 'drop trigger if exists refund_requests_database_webhook on public.refund_requests';
  execute format(
    'create trigger refund_requests_database_webhook after insert on public.refund_requests '
    'for each row execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
    v_url, 'POST',
    pg_catalog.jsonb_build_object('Content-Type', 'application/json', 'x-db-webhook-secret', v_secret)::text,
    '{}', '5000');
end
$$;
