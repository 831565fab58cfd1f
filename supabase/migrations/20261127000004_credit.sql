-- =============================================================================
-- Exactly-once credit. Verify, webhook and reconciliation all end in
-- credit_user (or fail_payment): one transaction that locks the payment, then
-- the wallet, checks the fence and the state, writes the ledger entry, moves
-- the balance and completes the payment. Whoever comes second waits on the
-- payment's row lock and then finds it completed.
--
-- Defence in depth against double credit, from the inside out:
--   1. the unique partial index: one `credit` ledger row per payment;
--   2. the row lock on the payment (state is read under it, never before);
--   3. the state machine: completed cannot be completed again;
--   4. the fence: a lock holder whose lease expired is refused.
--
-- Lock order, everywhere: webhook_events row → payment_logs row → wallets
-- row. The same order in every function means no deadlock between them.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- _lock_webhook_event: taken first (see the lock order above) when a writer
-- is to mark a webhook event processed: record_webhook_event locks the event
-- before the payment, so a duplicate delivery racing the credit cannot
-- deadlock with it.
-- -----------------------------------------------------------------------------
create function private._lock_webhook_event(p_event_id uuid) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_event_id is null then
    return;
  end if;
  perform 1 from public.webhook_events where id = p_event_id for update;
  if not found then
    raise exception using errcode = 'PM008', message = format('Webhook event %s not found', p_event_id);
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- _finish_webhook_event: marks the event processed in the transaction that
-- commits its effect. Marking it earlier (then failing the credit) would make
-- every retry skip it and the user would never be credited. The first outcome
-- recorded stays.
-- -----------------------------------------------------------------------------
create function private._finish_webhook_event(p_event_id uuid, p_outcome text) returns void
language sql
volatile
set search_path = ''
as $$
  update public.webhook_events
     set processed_at = now(), outcome = p_outcome
   where id = p_event_id and processed_at is null
$$;

-- -----------------------------------------------------------------------------
-- credit_user: the one credit transaction. The payment row is locked before
-- its state is looked at ("already done?" outside the lock is the classic
-- double-credit bug); the wallet row — a fixed row per (user, currency), not
-- the latest ledger entry — is locked before its balance is read, so
-- balance_after and the new balance cannot be computed from a stale value.
-- The provider's amount and currency must equal the payment's: otherwise the
-- payment fails with the reason and nothing is credited.
--
-- Paid means credited: the provider confirmed success, so a payment we had
-- failed (declined attempt, abandoned, timed out) is credited all the same
-- (failed → processing → completed, reason late_success). Only a payment
-- failed for a mismatch stays failed (not_creditable).
-- -----------------------------------------------------------------------------
create function public.credit_user(
  p_reference text,
  p_amount bigint,
  p_currency text,
  p_provider_payload jsonb default null,
  p_fence bigint default null,
  p_actor text default 'system',
  p_reason text default null,
  p_webhook_event_id uuid default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_wallet public.wallets;
  v_outcome text;
  v_failure text;
  v_late boolean := false;
begin
  if p_amount is null or p_currency is null or p_currency !~ '^[A-Z]{3}$' then
    raise exception using
      errcode = 'PM008',
      message = format('Provider amount and an ISO 4217 currency are required, got %s %s', p_amount, p_currency);
  end if;
  perform private._lock_webhook_event(p_webhook_event_id);
  v := private._lock_payment(p_reference, p_fence);
  perform private._set_actor(p_actor, p_reason);

  if v.state in ('completed', 'refunded') then
    v_outcome := 'already_credited';
  elsif v.state = 'failed' and private._is_mismatch(v.failure_reason) then
    v_outcome := 'not_creditable';
  elsif p_amount <> v.amount or p_currency <> v.currency then
    v_failure := format('amount_mismatch: provider confirmed %s %s, expected %s %s',
                        p_amount, p_currency, v.amount, v.currency);
    v := private._start_processing(v, p_actor, p_reason);
    perform private._set_actor(p_actor, v_failure);
    -- An already failed payment stays failed, now for the mismatch: no later
    -- "success" for this reference may credit it.
    update public.payment_logs
       set state = 'failed',
           failure_reason = v_failure,
           provider_payload = coalesce(p_provider_payload, provider_payload)
     where id = v.id
    returning * into v;
    v_outcome := 'mismatch';
  else
    insert into public.wallets (user_id, currency) values (v.user_id, v.currency)
    on conflict (user_id, currency) do nothing;
    select * into v_wallet
      from public.wallets
     where user_id = v.user_id and currency = v.currency
       for update;
    if v.state = 'failed' then
      v_late := true;
      perform private._set_actor(p_actor, 'late_success');
      update public.payment_logs set state = 'processing', failure_reason = null where id = v.id;
    else
      v := private._start_processing(v, p_actor, p_reason);
    end if;
    -- Stamped with clock_timestamp() after the wallet lock, not now() (the
    -- transaction's start): two credits racing for one wallet then carry
    -- times in the order they were applied, so "newest first" agrees with
    -- balance_after.
    insert into public.sms_transactions
      (reference, idempotency_key, payment_log_id, user_id, wallet_id, type, amount, currency, balance_after,
       created_at)
    values
      ('credit-' || v.reference, 'credit:' || v.id, v.id, v.user_id, v_wallet.id, 'credit', v.amount, v.currency,
       v_wallet.balance + v.amount, pg_catalog.clock_timestamp());
    update public.wallets
       set balance = balance + v.amount, lock_version = lock_version + 1, updated_at = now()
     where id = v_wallet.id;
    update public.payment_logs
       set state = 'completed', provider_payload = coalesce(p_provider_payload, provider_payload)
     where id = v.id
    returning * into v;
    v_outcome := 'credited';
  end if;

  perform private._finish_webhook_event(p_webhook_event_id, v_outcome);
  return pg_catalog.jsonb_build_object(
    'outcome', v_outcome, 'credited', v_outcome = 'credited', 'late_success', v_late,
    'payment', private._payment_json(v));
end
$$;

-- -----------------------------------------------------------------------------
-- fail_payment: the provider says the payment will not succeed. Under the
-- payment's row lock, so it cannot overwrite a credit that committed first
-- (a settled payment is returned unchanged).
-- -----------------------------------------------------------------------------
create function public.fail_payment(
  p_reference text,
  p_reason text,
  p_provider_payload jsonb default null,
  p_fence bigint default null,
  p_actor text default 'system',
  p_webhook_event_id uuid default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_changed boolean := false;
begin
  if p_reason is null or p_reason = '' then
    raise exception using errcode = 'PM008', message = 'A failure reason is required';
  end if;
  perform private._lock_webhook_event(p_webhook_event_id);
  v := private._lock_payment(p_reference, p_fence);
  if v.state in ('pending', 'processing') then
    perform private._set_actor(p_actor, p_reason);
    update public.payment_logs
       set state = 'failed',
           failure_reason = p_reason,
           provider_payload = coalesce(p_provider_payload, provider_payload)
     where id = v.id
    returning * into v;
    v_changed := true;
  end if;
  perform private._finish_webhook_event(p_webhook_event_id, case when v_changed then 'failed' else 'already_settled' end);
  return pg_catalog.jsonb_build_object('changed', v_changed, 'payment', private._payment_json(v));
end
$$;

-- -----------------------------------------------------------------------------
-- get_wallet: a user's balances and ledger entries, newest first, keyset
-- pagination on (created_at, id) as in list_payments (served by
-- sms_transactions_user_created_idx).
-- -----------------------------------------------------------------------------
create function public.get_wallet(
  p_user_id uuid,
  p_limit integer default 20,
  p_cursor_created_at timestamptz default null,
  p_cursor_id uuid default null
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit integer := least(greatest(coalesce(p_limit, 20), 1), 100);
  v_balances jsonb;
  v_items jsonb;
begin
  if (p_cursor_created_at is null) <> (p_cursor_id is null) then
    raise exception using errcode = 'PM008', message = 'Cursor needs both created_at and id';
  end if;
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'currency', w.currency, 'balance', w.balance, 'held', w.held, 'available', w.balance - w.held,
           'updated_at', private._iso(w.updated_at)) order by w.currency),
         '[]'::jsonb)
    into v_balances
    from public.wallets w
   where w.user_id = p_user_id;

  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', t.id,
           'reference', t.reference,
           'payment_reference', p.reference,
           'type', t.type,
           'amount', t.amount,
           'currency', t.currency,
           'balance_after', t.balance_after,
           'created_at', private._iso(t.created_at)) order by t.created_at desc, t.id desc), '[]'::jsonb)
    into v_items
    from (
      select *
      from public.sms_transactions
      where user_id = p_user_id
        and (created_at, id) < (coalesce(p_cursor_created_at, 'infinity'::timestamptz),
                                coalesce(p_cursor_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
      order by created_at desc, id desc
      limit v_limit + 1
    ) t
    left join public.payment_logs p on p.id = t.payment_log_id;
  return pg_catalog.jsonb_build_object('balances', v_balances) || private._page(v_items, v_limit);
end
$$;

revoke execute on function
  private._lock_webhook_event(uuid),
  private._finish_webhook_event(uuid, text)
  from public, anon, authenticated, service_role;

revoke execute on function
  public.credit_user(text, bigint, text, jsonb, bigint, text, text, uuid),
  public.fail_payment(text, text, jsonb, bigint, text, uuid),
  public.get_wallet(uuid, integer, timestamptz, uuid)
  from public, anon, authenticated;

grant execute on function
  public.credit_user(text, bigint, text, jsonb, bigint, text, text, uuid),
  public.fail_payment(text, text, jsonb, bigint, text, uuid),
  public.get_wallet(uuid, integer, timestamptz, uuid)
  to service_role;
