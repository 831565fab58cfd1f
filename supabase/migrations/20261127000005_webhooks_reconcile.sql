-- =============================================================================
-- Provider webhooks and reconciliation.
--
-- record_webhook_event is the durable dedupe record of an event: committed
-- before any work, marked processed only by the transaction that commits the
-- event's effect (credit_user / fail_payment with p_webhook_event_id, or here
-- when there is nothing to do). A redelivery of a processed event is answered
-- from the record; a redelivery of an unprocessed one is worked on again.
--
-- reconcile_candidates lists payments stuck in pending/processing, which the
-- reconciliation job re-verifies and settles through the same credit path.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- record_webhook_event. The upsert locks the event row, then the payment row
-- is locked: the same order (event → payment → wallet) as credit_user, so a
-- redelivery racing the credit waits for it instead of deadlocking, and then
-- sees the event processed.
--
-- p_reference is the provider's reference (any attempt, see
-- open_provider_attempt). Only a settled payment (completed, refunded, or
-- failed for a mismatch) closes the event as already_settled: any other
-- failed payment may still be paid (a late success), so its events stay open
-- until a confirmation settles them — also when the caller could not take
-- the lock and only records the event (check_ledger_invariants reports an
-- open charge.success as paid_not_credited until then). A failed payment
-- stays failed here; credit_user moves it failed → processing → completed.
-- -----------------------------------------------------------------------------
create function public.record_webhook_event(
  p_provider text,
  p_event_key text,
  p_event_type text,
  p_reference text,
  p_payload jsonb,
  p_mark_processing boolean default false,
  p_fence bigint default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event public.webhook_events;
  v_duplicate boolean;
  v public.payment_logs;
begin
  if p_provider is null or p_event_key is null or p_event_type is null then
    raise exception using errcode = 'PM008', message = 'Provider, event key and event type are required';
  end if;
  insert into public.webhook_events as e (provider, event_key, event_type, reference, payload)
  values (p_provider, p_event_key, p_event_type, p_reference, coalesce(p_payload, '{}'::jsonb))
  on conflict (provider, event_key) do update set attempts = e.attempts + 1
  returning * into v_event;
  -- attempts starts at 1 and only the conflict branch raises it.
  v_duplicate := v_event.attempts > 1;

  if v_event.processed_at is not null then
    select * into v from public.payment_logs where reference = pg_catalog.split_part(v_event.reference, '.r', 1);
    return pg_catalog.jsonb_build_object(
      'event_id', v_event.id, 'duplicate', v_duplicate, 'processed', true,
      'payment', case when v.id is null then null else private._payment_json(v) end);
  end if;

  v := private._payment_by_provider_reference(p_reference);
  if v.id is null then
    perform private._finish_webhook_event(v_event.id, 'unknown_reference');
    return pg_catalog.jsonb_build_object(
      'event_id', v_event.id, 'duplicate', v_duplicate, 'processed', true, 'payment', null);
  end if;

  if private._is_settled(v.state, v.failure_reason) then
    perform private._finish_webhook_event(v_event.id, 'already_settled');
    return pg_catalog.jsonb_build_object(
      'event_id', v_event.id, 'duplicate', v_duplicate, 'processed', true, 'payment', private._payment_json(v));
  end if;

  -- The caller holds the payment's lock: do mark_processing's work under the
  -- same fencing rule, in this transaction.
  if p_mark_processing then
    v := private._start_processing(private._apply_fence(v, p_fence), 'webhook', p_event_type);
  end if;
  return pg_catalog.jsonb_build_object(
    'event_id', v_event.id, 'duplicate', v_duplicate, 'processed', false, 'payment', private._payment_json(v));
end
$$;

-- -----------------------------------------------------------------------------
-- reconcile_candidates: unsettled payments past their thresholds, oldest
-- first. A pending payment ages from its creation (the user may never have
-- paid); a processing one from when processing started (someone began
-- confirming it and did not finish). Both scans use the partial index on
-- unsettled states.
-- -----------------------------------------------------------------------------
create function public.reconcile_candidates(
  p_pending_older_than_seconds integer default 900,
  p_processing_older_than_seconds integer default 300,
  p_limit integer default 100
) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'reference', c.reference,
           'state', c.state,
           'created_at', private._iso(c.created_at),
           'age_seconds', floor(extract(epoch from now() - c.since))::bigint) order by c.since, c.reference),
         '[]'::jsonb)
  from (
    select *
    from (
      select p.reference, p.state, p.created_at, p.created_at as since
      from public.payment_logs p
      where p.state = 'pending'
        and p.created_at < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_pending_older_than_seconds, 900), 0))
      union all
      select p.reference, p.state, p.created_at, coalesce(p.processing_started_at, p.updated_at) as since
      from public.payment_logs p
      where p.state = 'processing'
        and coalesce(p.processing_started_at, p.updated_at)
            < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_processing_older_than_seconds, 300), 0))
    ) due
    order by due.since, due.reference
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) c
$$;

-- -----------------------------------------------------------------------------
-- open_success_events: charge.success events still open past the threshold —
-- deferred because another holder had the payment's lock, or whose handling
-- died — for payments not settled. Reconciliation handles each again as its
-- delivery would (lock, confirm with the provider, credit or fail), which
-- closes it with its real outcome: "the holder finishes, reconciliation
-- catches the rest".
-- -----------------------------------------------------------------------------
create function public.open_success_events(
  p_older_than_seconds integer default 300,
  p_limit integer default 100
) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'provider', e.provider, 'event_key', e.event_key, 'event_type', e.event_type,
           'reference', e.reference, 'payload', e.payload) order by e.received_at, e.id), '[]'::jsonb)
  from (
    select ev.*
    from public.webhook_events ev
    join public.payment_logs p on p.reference = pg_catalog.split_part(ev.reference, '.r', 1)
    where ev.event_type = 'charge.success' and ev.processed_at is null and ev.reference is not null
      and ev.received_at < now() - pg_catalog.make_interval(secs => greatest(coalesce(p_older_than_seconds, 300), 0))
      and not private._is_settled(p.state, p.failure_reason)
    order by ev.received_at, ev.id
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) e
$$;

revoke execute on function
  public.open_success_events(integer, integer),
  public.record_webhook_event(text, text, text, text, jsonb, boolean, bigint),
  public.reconcile_candidates(integer, integer, integer)
  from public, anon, authenticated;

grant execute on function
  public.open_success_events(integer, integer),
  public.record_webhook_event(text, text, text, text, jsonb, boolean, bigint),
  public.reconcile_candidates(integer, integer, integer)
  to service_role;
