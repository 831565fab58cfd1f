-- =============================================================================
-- Ledger invariants and readiness.
--
-- check_ledger_invariants() re-derives what the money tables must agree on
-- from scratch. The writers are built so that it always returns no rows; it
-- exists to prove that in tests and to alarm in production (run it from a
-- cron and page on any row). It reads only, so it can run on a replica.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- check_ledger_invariants: one row per broken invariant.
--   balance_mismatch                  wallet balance ≠ credits − refunds − debits of its ledger
--   negative_balance                  wallet balance < 0
--   completed_without_single_credit   completed/refunded payment without exactly one credit
--   credit_without_completed_payment  credit entry whose payment is missing or not completed/refunded
--   credit_amount_mismatch            credit amount/currency ≠ the payment's
--   paid_not_credited                 the database holds evidence that the provider
--                                     collected the money for a payment that is not
--                                     credited and not failed for a mismatch: a
--                                     signed charge.success event not yet processed
--                                     (a processed one was checked against the
--                                     provider's verify, which had the last word),
--                                     or a provider payload with status success
--   held_mismatch                     wallet held ≠ the refunds in flight of that wallet
--   refunded_amount_mismatch          payment refunded_amount ≠ its processed refunds, or ≠
--                                     its ledger refund entries
--   refund_without_single_entry       processed refund without exactly one ledger entry, or a
--                                     ledger refund entry whose refund is not processed
--   refunded_state_mismatch           state refunded ⇔ fully refunded does not hold
-- A payment being settled right now may show as paid_not_credited for the
-- moment between its event being stored and its credit committing: alarm on
-- a row that persists across two runs, not on one sighting.
-- -----------------------------------------------------------------------------
create function public.check_ledger_invariants()
returns table (invariant text, subject text, detail jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  with ledger as (
    select t.wallet_id,
           sum(case when t.type = 'credit' then t.amount else -t.amount end) as total,
           count(*) as entries
    from public.sms_transactions t
    group by t.wallet_id
  )
  select 'balance_mismatch', w.id::text,
         pg_catalog.jsonb_build_object('user_id', w.user_id, 'currency', w.currency, 'balance', w.balance,
                                       'ledger_total', coalesce(l.total, 0), 'entries', coalesce(l.entries, 0))
  from public.wallets w
  left join ledger l on l.wallet_id = w.id
  where w.balance <> coalesce(l.total, 0)

  union all
  select 'negative_balance', w.id::text,
         pg_catalog.jsonb_build_object('user_id', w.user_id, 'currency', w.currency, 'balance', w.balance)
  from public.wallets w
  where w.balance < 0

  union all
  select 'completed_without_single_credit', p.reference,
         pg_catalog.jsonb_build_object('payment_id', p.id, 'state', p.state, 'credits', count(t.id))
  from public.payment_logs p
  left join public.sms_transactions t on t.payment_log_id = p.id and t.type = 'credit'
  where p.state in ('completed', 'refunded')
  group by p.id
  having count(t.id) <> 1

  union all
  select 'credit_without_completed_payment', t.reference,
         pg_catalog.jsonb_build_object('ledger_id', t.id, 'payment_reference', p.reference, 'payment_state', p.state)
  from public.sms_transactions t
  left join public.payment_logs p on p.id = t.payment_log_id
  where t.type = 'credit'
    and (p.id is null or p.state not in ('completed', 'refunded'))

  union all
  select 'credit_amount_mismatch', t.reference,
         pg_catalog.jsonb_build_object('ledger_id', t.id, 'payment_reference', p.reference,
                                       'credit_amount', t.amount, 'credit_currency', t.currency,
                                       'payment_amount', p.amount, 'payment_currency', p.currency)
  from public.sms_transactions t
  join public.payment_logs p on p.id = t.payment_log_id
  where t.type = 'credit'
    and (t.amount <> p.amount or t.currency <> p.currency)

  union all
  select 'paid_not_credited', p.reference,
         pg_catalog.jsonb_build_object('payment_id', p.id, 'state', p.state, 'failure_reason', p.failure_reason,
                                       'success_events', coalesce(e.events, 0),
                                       'provider_status', p.provider_payload ->> 'status')
  from public.payment_logs p
  left join (
    select pg_catalog.split_part(ev.reference, '.r', 1) as payment_reference, count(*) as events
    from public.webhook_events ev
    where ev.event_type = 'charge.success' and ev.reference is not null and ev.processed_at is null
    group by 1
  ) e on e.payment_reference = p.reference
  where not private._is_settled(p.state, p.failure_reason)
    and (e.events > 0 or p.provider_payload ->> 'status' = 'success')

  union all
  select 'held_mismatch', w.id::text,
         pg_catalog.jsonb_build_object('user_id', w.user_id, 'currency', w.currency, 'held', w.held,
                                       'in_flight', coalesce(f.total, 0))
  from public.wallets w
  left join (
    select r.wallet_id, sum(r.amount) as total
    from public.refunds r
    where r.state in ('pending', 'processing', 'needs_attention')
    group by r.wallet_id
  ) f on f.wallet_id = w.id
  where w.held <> coalesce(f.total, 0)

  union all
  select 'refunded_amount_mismatch', p.reference,
         pg_catalog.jsonb_build_object('refunded_amount', p.refunded_amount,
                                       'processed_refunds', coalesce(r.total, 0), 'ledger_refunds', coalesce(l.total, 0))
  from public.payment_logs p
  left join (
    select payment_log_id, sum(amount) as total from public.refunds where state = 'processed' group by payment_log_id
  ) r on r.payment_log_id = p.id
  left join (
    select payment_log_id, sum(amount) as total from public.sms_transactions where type = 'refund' group by payment_log_id
  ) l on l.payment_log_id = p.id
  where p.refunded_amount <> coalesce(r.total, 0) or p.refunded_amount <> coalesce(l.total, 0)

  union all
  select 'refund_without_single_entry', r.id::text,
         pg_catalog.jsonb_build_object('state', r.state, 'entries', count(t.id))
  from public.refunds r
  left join public.sms_transactions t on t.refund_id = r.id and t.type = 'refund'
  group by r.id
  having (r.state = 'processed') <> (count(t.id) = 1) or count(t.id) > 1

  union all
  select 'refund_without_single_entry', t.reference,
         pg_catalog.jsonb_build_object('ledger_id', t.id, 'refund_id', t.refund_id, 'entries', 1)
  from public.sms_transactions t
  left join public.refunds r on r.id = t.refund_id
  where t.type = 'refund' and r.id is null

  union all
  select 'refunded_state_mismatch', p.reference,
         pg_catalog.jsonb_build_object('state', p.state, 'amount', p.amount, 'refunded_amount', p.refunded_amount)
  from public.payment_logs p
  where (p.state = 'refunded') <> (p.refunded_amount = p.amount)
$$;

-- -----------------------------------------------------------------------------
-- ping: readiness probe. A round trip through the gateway, the role switch
-- and the function grants, touching no table.
-- -----------------------------------------------------------------------------
create function public.ping() returns text
language sql
stable
security definer
set search_path = ''
as $$
  select 'ok'::text
$$;

revoke execute on function public.check_ledger_invariants(), public.ping() from public, anon, authenticated;
grant execute on function public.check_ledger_invariants(), public.ping() to service_role;
