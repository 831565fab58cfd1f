-- =============================================================================
-- Provider reconciliation: every success the provider reports has exactly one
-- credit.
--
-- The stuck-payment pass (reconcile_candidates) starts from our own rows, so a
-- payment in a state it does not scan, or an event lost before it was stored,
-- escapes it. This pass starts from the provider's side, as a ledger is
-- reconciled against a bank statement: it lists the provider's successes in a
-- time window (GET /transaction on Paystack) and, for each one,
-- resolve_provider_reference says whether the reference is ours and where the
-- payment stands. A payment not credited yet is settled through the normal
-- credit path (verify, then credit_user, which decides: nothing credits twice).
--
-- provider_reconciliation_cursors keeps, per provider, the end of the last
-- window that was fully checked, so each pass continues where the last
-- stopped (the service overlaps the windows a little to cover the provider's
-- clock). It only ever moves forward.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- provider_reconciliation_cursors: one row per provider. checked_until = every
-- provider success created up to it has been checked.
-- -----------------------------------------------------------------------------
create table public.provider_reconciliation_cursors (
  provider text primary key check (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
  checked_until timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Service state, not user data: no API role reads or writes it directly.
alter table public.provider_reconciliation_cursors enable row level security;
revoke all on table public.provider_reconciliation_cursors from anon, authenticated;

-- -----------------------------------------------------------------------------
-- get_provider_reconciliation_cursor: the provider's cursor, or null before
-- its first complete pass.
-- -----------------------------------------------------------------------------
create function public.get_provider_reconciliation_cursor(p_provider text) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'provider', c.provider,
    'checked_until', private._iso(c.checked_until),
    'updated_at', private._iso(c.updated_at))
  from public.provider_reconciliation_cursors c
  where c.provider = p_provider
$$;

-- -----------------------------------------------------------------------------
-- advance_provider_reconciliation_cursor: records that everything up to
-- p_checked_until was checked. Never moves the cursor back (greatest()), so
-- two passes finishing out of order, or a manual re-scan of an older window,
-- cannot make the next pass skip a window. A cursor more than an hour ahead
-- of the database's clock is refused (PM008): every pass would start after
-- transactions that have not happened yet and never look at them.
-- -----------------------------------------------------------------------------
create function public.advance_provider_reconciliation_cursor(p_provider text, p_checked_until timestamptz)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.provider_reconciliation_cursors;
begin
  if p_provider is null or p_provider !~ '^[a-z][a-z0-9_]{0,31}$' then
    raise exception using errcode = 'PM008', message = 'Provider must be a lower-case name';
  end if;
  if p_checked_until is null or p_checked_until > now() + interval '1 hour' then
    raise exception using errcode = 'PM008',
      message = format('Cannot move the %s cursor to %s: it must be given and not in the future', p_provider,
                       p_checked_until);
  end if;
  insert into public.provider_reconciliation_cursors as c (provider, checked_until)
  values (p_provider, p_checked_until)
  on conflict (provider) do update
    set checked_until = greatest(c.checked_until, excluded.checked_until), updated_at = now()
  returning * into v;
  return pg_catalog.jsonb_build_object(
    'provider', v.provider,
    'checked_until', private._iso(v.checked_until),
    'updated_at', private._iso(v.updated_at));
end
$$;

-- -----------------------------------------------------------------------------
-- resolve_provider_reference: which payment of ours a reference the provider
-- reports belongs to (any attempt: `<reference>` or `<reference>.r<n>`, see
-- private._payment_by_provider_reference) and where it stands:
--
--   unknown_reference  no payment of ours (a reference we never issued, or a
--                      `.r<n>` beyond the payment's attempts)
--   credited           completed or refunded: its credit is in the ledger
--   mismatch           failed for an amount/currency mismatch: never credited
--                      automatically
--   not_credited       any other state (pending, processing, failed for any
--                      other reason): a success for it is still owed a credit
--
-- With the facts the caller needs to prove "exactly once": `credits` (ledger
-- credits of the payment; 1 when credited, 0 otherwise) and
-- `credited_provider_reference` (the provider reference whose confirmed
-- success was credited, from the stored provider payload), so a second paid
-- attempt of an already credited payment is told apart from the one credited.
-- Reads under the payment's row lock, so a credit committing concurrently is
-- seen whole or not at all.
-- -----------------------------------------------------------------------------
create function public.resolve_provider_reference(p_provider_reference text) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_credits integer;
  v_credited boolean;
begin
  if p_provider_reference is null or p_provider_reference = '' then
    raise exception using errcode = 'PM008', message = 'Provider reference is required';
  end if;
  v := private._payment_by_provider_reference(p_provider_reference);
  if v.id is null then
    return pg_catalog.jsonb_build_object(
      'outcome', 'unknown_reference', 'payment', null, 'credits', 0, 'credited_provider_reference', null);
  end if;
  select count(*)::integer into v_credits
    from public.sms_transactions t
   where t.payment_log_id = v.id and t.type = 'credit';
  v_credited := v.state in ('completed', 'refunded');
  return pg_catalog.jsonb_build_object(
    'outcome', case
      when v_credited then 'credited'
      when v.state = 'failed' and private._is_mismatch(v.failure_reason) then 'mismatch'
      else 'not_credited'
    end,
    'payment', private._payment_json(v),
    'credits', v_credits,
    'credited_provider_reference', case when v_credited then v.provider_payload ->> 'reference' end);
end
$$;

revoke execute on function
  public.get_provider_reconciliation_cursor(text),
  public.advance_provider_reconciliation_cursor(text, timestamptz),
  public.resolve_provider_reference(text)
  from public, anon, authenticated;

grant execute on function
  public.get_provider_reconciliation_cursor(text),
  public.advance_provider_reconciliation_cursor(text, timestamptz),
  public.resolve_provider_reference(text)
  to service_role;
