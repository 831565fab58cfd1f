-- =============================================================================
-- Payment state machine: the database itself refuses illegal transitions and
-- keeps the audit trail, so no writer (RPC function, staff SQL, a future bug)
-- can skip a state or rewrite history.
--
--   pending ──▶ processing ──▶ completed ──▶ refunded
--      │         │     ▲
--      │         ▼     │ late_success: failed → processing
--      └─────▶ failed ─┘ (never after an amount mismatch)
--
-- Paid means credited: a provider-confirmed success for a payment we failed
-- (declined attempt, abandoned checkout, timeout) is still credited, through
-- failed → processing → completed inside credit_user. Only a payment failed
-- for an amount/currency mismatch is final: the provider's money does not
-- match what was asked, so it is never credited automatically.
--
-- Mirrored in src/payments/payment_state.ts. Also here: the JSON shape of a
-- payment (src/store/payment_store.ts `Payment`), the fencing rule, and the
-- read/transition RPCs.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- _iso: timestamps in JSON as UTC ISO 8601 with microseconds, whatever the
-- session's TimeZone. Microseconds matter: keyset cursors round-trip through
-- this text and must compare equal to the stored value.
-- -----------------------------------------------------------------------------
create function private._iso(p_at timestamptz) returns text
language sql
stable
set search_path = ''
as $$
  select pg_catalog.to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- -----------------------------------------------------------------------------
-- _is_mismatch: whether a failure reason is an amount/currency mismatch (the
-- one failure a later provider success cannot undo). credit_user writes the
-- reason with this prefix; nothing else does.
-- -----------------------------------------------------------------------------
create function private._is_mismatch(p_failure_reason text) returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(p_failure_reason like 'amount\_mismatch:%', false)
$$;

-- -----------------------------------------------------------------------------
-- _is_settled: no provider answer can change this payment's money any more —
-- completed, refunded, or failed for a mismatch. Any other failed payment may
-- still turn out paid (late success) and is confirmed with the provider.
-- -----------------------------------------------------------------------------
create function private._is_settled(p_state public.payment_state, p_failure_reason text) returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_state in ('completed', 'refunded') or (p_state = 'failed' and private._is_mismatch(p_failure_reason))
$$;

-- -----------------------------------------------------------------------------
-- _payment_json: the public fields of a payment, exactly the `Payment` type of
-- the TypeScript port. provider_payload, idempotency_key and last_fence stay
-- inside the database.
-- -----------------------------------------------------------------------------
create function private._payment_json(p public.payment_logs) returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'id', p.id,
    'user_id', p.user_id,
    'reference', p.reference,
    'provider_reference', p.provider_reference,
    'provider', p.provider,
    'amount', p.amount,
    'currency', p.currency,
    'email', p.email,
    'metadata', p.metadata,
    'state', p.state,
    'settled', private._is_settled(p.state, p.failure_reason),
    'state_transitions', p.state_transitions,
    'lock_version', p.lock_version,
    'refunded_amount', p.refunded_amount,
    'failure_reason', p.failure_reason,
    'authorization_url', p.authorization_url,
    'access_code', p.access_code,
    'processing_started_at', private._iso(p.processing_started_at),
    'processing_completed_at', private._iso(p.processing_completed_at),
    'created_at', private._iso(p.created_at),
    'updated_at', private._iso(p.updated_at)
  )
$$;

-- -----------------------------------------------------------------------------
-- _set_actor: who and why, for the audit trail. Transaction-local settings
-- (is_local = true), so they die with the RPC's transaction and never leak
-- into the next request on a pooled connection.
-- -----------------------------------------------------------------------------
create function private._set_actor(p_actor text, p_reason text) returns void
language sql
volatile
set search_path = ''
as $$
  select pg_catalog.set_config('payments.actor', coalesce(nullif(p_actor, ''), 'system'), true),
         pg_catalog.set_config('payments.reason', coalesce(p_reason, ''), true)
$$;

-- -----------------------------------------------------------------------------
-- _payment_state_guard (BEFORE INSERT OR UPDATE on payment_logs).
-- It owns state_transitions, lock_version, updated_at and the processing_*_at
-- timestamps: whatever a caller writes into them is overwritten, so history
-- cannot be forged by a direct UPDATE. Every UPDATE bumps lock_version, which
-- is what optimistic writers (transition_payment) compare against. The money
-- identity of a payment (owner, reference, provider, amount, currency) never
-- changes after insert: a credit is checked against it.
-- -----------------------------------------------------------------------------
create function private._payment_state_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_actor text := coalesce(nullif(pg_catalog.current_setting('payments.actor', true), ''), 'system');
  v_reason text := nullif(pg_catalog.current_setting('payments.reason', true), '');
  v_legal boolean;
begin
  if tg_op = 'INSERT' then
    if new.state is distinct from 'pending' then
      raise exception using
        errcode = 'PM001',
        message = format('Cannot create payment %s in state %s', new.reference, new.state);
    end if;
    new.state_transitions := pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'from', null::text, 'to', 'pending', 'at', private._iso(now()), 'actor', v_actor, 'reason', v_reason));
    new.lock_version := 0;
    new.provider_reference := new.reference;
    new.provider_attempt := 1;
    new.processing_started_at := null;
    new.processing_completed_at := null;
    return new;
  end if;

  if (new.id, new.user_id, new.reference, new.provider, new.amount, new.currency, new.created_at)
    is distinct from (old.id, old.user_id, old.reference, old.provider, old.amount, old.currency, old.created_at)
  then
    raise exception using
      errcode = 'PM008',
      message = format('Payment %s: owner, reference, provider, amount and currency cannot change', old.reference);
  end if;

  new.state_transitions := old.state_transitions;
  new.lock_version := old.lock_version + 1;
  new.processing_started_at := old.processing_started_at;
  new.processing_completed_at := old.processing_completed_at;
  new.updated_at := now();

  if new.state is distinct from old.state then
    v_legal := case old.state
      when 'pending' then new.state in ('processing', 'failed')
      when 'processing' then new.state in ('completed', 'failed')
      when 'completed' then new.state = 'refunded'
      when 'failed' then new.state = 'processing' and not private._is_mismatch(old.failure_reason)
      else false
    end;
    if not coalesce(v_legal, false) then
      raise exception using
        errcode = 'PM001',
        message = format('Cannot move payment %s from %s to %s', old.reference, old.state, new.state);
    end if;
    new.state_transitions := new.state_transitions || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'from', old.state, 'to', new.state, 'at', private._iso(now()), 'actor', v_actor, 'reason', v_reason));
    if new.state = 'processing' and old.state = 'failed' then
      -- A late success starts a new confirmation.
      new.processing_started_at := now();
      new.processing_completed_at := null;
    elsif new.state = 'processing' then
      new.processing_started_at := coalesce(old.processing_started_at, now());
    elsif new.state in ('completed', 'failed') then
      new.processing_completed_at := now();
    end if;
  elsif new.refunded_amount is distinct from old.refunded_amount then
    -- A partial refund moves money but not the state: the trail records it
    -- all the same (completed → completed, with who and why).
    new.state_transitions := new.state_transitions || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'from', old.state, 'to', new.state, 'at', private._iso(now()), 'actor', v_actor, 'reason', v_reason));
  end if;
  return new;
end
$$;

create trigger payment_logs_state_guard
  before insert or update on public.payment_logs
  for each row execute function private._payment_state_guard();

-- -----------------------------------------------------------------------------
-- _apply_fence: the fencing rule (Kleppmann). A lock holder's token smaller
-- than one already seen belongs to a holder whose lease expired → PM003.
-- Equal tokens pass (one holder calls mark_processing then credit_user). A
-- higher token is stored, so the older holder is refused from now on. A null
-- token means the caller runs without the lock (degraded mode): no check, the
-- row lock alone keeps the money correct. The caller holds the row lock.
-- -----------------------------------------------------------------------------
create function private._apply_fence(p public.payment_logs, p_fence bigint) returns public.payment_logs
language plpgsql
volatile
set search_path = ''
as $$
declare
  v public.payment_logs := p;
begin
  if p_fence is null then
    return v;
  end if;
  if v.last_fence is not null and p_fence < v.last_fence then
    raise exception using
      errcode = 'PM003',
      message = format('Stale fencing token %s for payment %s: %s already seen', p_fence, v.reference, v.last_fence);
  end if;
  if v.last_fence is distinct from p_fence then
    update public.payment_logs set last_fence = p_fence where id = v.id returning * into v;
  end if;
  return v;
end
$$;

-- -----------------------------------------------------------------------------
-- max_fence: the highest fencing token any payment has seen. Fences come from
-- one counter in Redis, which can lose it (a flushed or new database, an
-- evicted key, a prefix change, an embedded restart). Every later token would
-- then be stale for the payments already touched and they would never settle.
-- A holder refused with PM003 raises the counter past this value and retries
-- once, so fences keep increasing whatever happens to Redis.
-- -----------------------------------------------------------------------------
create function public.max_fence() returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(max(last_fence), 0)::bigint from public.payment_logs
$$;

-- -----------------------------------------------------------------------------
-- _lock_payment: the first step of every pessimistic writer. SELECT … FOR
-- UPDATE serialises all writers of one payment (verify, webhook, reconcile):
-- whoever comes second sees the first one's committed state, never a stale
-- copy. Then the fencing rule.
-- -----------------------------------------------------------------------------
create function private._lock_payment(p_reference text, p_fence bigint) returns public.payment_logs
language plpgsql
volatile
set search_path = ''
as $$
declare
  v public.payment_logs;
begin
  select * into v from public.payment_logs where reference = p_reference for update;
  if not found then
    raise exception using errcode = 'PM004', message = format('Payment %s not found', p_reference);
  end if;
  return private._apply_fence(v, p_fence);
end
$$;

-- -----------------------------------------------------------------------------
-- _start_processing: the pending → processing hop, the one place it is
-- written (mark_processing, record_webhook_event, credit_user). Someone
-- started confirming the payment with the provider. Any other state is
-- returned unchanged. The caller holds the payment's row lock.
-- -----------------------------------------------------------------------------
create function private._start_processing(p public.payment_logs, p_actor text, p_reason text)
returns public.payment_logs
language plpgsql
volatile
set search_path = ''
as $$
declare
  v public.payment_logs := p;
begin
  if v.state = 'pending' then
    perform private._set_actor(p_actor, p_reason);
    update public.payment_logs set state = 'processing' where id = v.id returning * into v;
  end if;
  return v;
end
$$;

-- -----------------------------------------------------------------------------
-- _payment_by_provider_reference: the payment a provider reference belongs to,
-- locked FOR UPDATE: `<reference>` or `<reference>.r<n>` for an attempt it
-- opened (n ≤ its attempts). Anything else is no payment of ours (null row).
-- -----------------------------------------------------------------------------
create function private._payment_by_provider_reference(p_provider_reference text) returns public.payment_logs
language plpgsql
volatile
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_attempt text;
begin
  select * into v
    from public.payment_logs
   where reference = pg_catalog.split_part(p_provider_reference, '.r', 1)
     for update;
  if found and p_provider_reference <> v.reference then
    v_attempt := pg_catalog.substr(p_provider_reference, pg_catalog.length(v.reference) + 3);
    if v_attempt !~ '^[1-9][0-9]{0,8}$' or v_attempt::integer > v.provider_attempt then
      v := null;
    end if;
  end if;
  return v;
end
$$;

-- -----------------------------------------------------------------------------
-- get_payment: the user's own payment, or null (someone else's is null too, so
-- a reference guessed by another user reveals nothing).
-- -----------------------------------------------------------------------------
create function public.get_payment(p_user_id uuid, p_reference text) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private._payment_json(p)
  from public.payment_logs p
  where p.reference = p_reference and p.user_id = p_user_id
$$;

-- -----------------------------------------------------------------------------
-- get_payment_by_reference: any payment (service use: webhooks, reconcile).
-- -----------------------------------------------------------------------------
create function public.get_payment_by_reference(p_reference text) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private._payment_json(p) from public.payment_logs p where p.reference = p_reference
$$;

-- -----------------------------------------------------------------------------
-- _page: one page of a keyset-paginated list. The caller fetched one item
-- more than p_limit (newest first): if it is there, a next page exists and
-- the cursor is the last item kept — its (created_at, id), as rendered by
-- _iso, so the next query compares it exactly with the stored value.
-- -----------------------------------------------------------------------------
create function private._page(p_items jsonb, p_limit integer) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case
    when pg_catalog.jsonb_array_length(p_items) > p_limit then pg_catalog.jsonb_build_object(
      'items', p_items - p_limit,
      'next_cursor', pg_catalog.jsonb_build_object(
        'created_at', p_items -> (p_limit - 1) -> 'created_at',
        'id', p_items -> (p_limit - 1) -> 'id'))
    else pg_catalog.jsonb_build_object('items', p_items, 'next_cursor', null)
  end
$$;

-- -----------------------------------------------------------------------------
-- list_payments: a user's payments, newest first, keyset pagination on
-- (created_at, id) — stable under concurrent inserts, unlike OFFSET, and
-- served by payment_logs_user_created_idx. A missing cursor is replaced by
-- (+infinity, max uuid) so there is one index-friendly plan.
-- -----------------------------------------------------------------------------
create function public.list_payments(
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
  v_items jsonb;
begin
  if (p_cursor_created_at is null) <> (p_cursor_id is null) then
    raise exception using errcode = 'PM008', message = 'Cursor needs both created_at and id';
  end if;
  select coalesce(pg_catalog.jsonb_agg(private._payment_json(p) order by p.created_at desc, p.id desc), '[]'::jsonb)
    into v_items
    from (
      select *
      from public.payment_logs
      where user_id = p_user_id
        and (created_at, id) < (coalesce(p_cursor_created_at, 'infinity'::timestamptz),
                                coalesce(p_cursor_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
      order by created_at desc, id desc
      limit v_limit + 1
    ) p;
  return private._page(v_items, v_limit);
end
$$;

-- -----------------------------------------------------------------------------
-- mark_processing: pending → processing under the payment's row lock, storing
-- the holder's fence. Idempotent: any other state is returned unchanged.
-- -----------------------------------------------------------------------------
create function public.mark_processing(
  p_reference text,
  p_fence bigint default null,
  p_actor text default 'system',
  p_reason text default null,
  p_user_id uuid default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
  v_changed boolean;
begin
  select * into v from public.payment_logs where reference = p_reference for update;
  -- With p_user_id (a customer's verify), someone else's payment is no
  -- payment at all: null, and nothing fenced or written. This folds the
  -- ownership read into the one RPC verify needs before the provider.
  if not found or (p_user_id is not null and v.user_id <> p_user_id) then
    if p_user_id is not null then
      return null;
    end if;
    raise exception using errcode = 'PM004', message = format('Payment %s not found', p_reference);
  end if;
  -- A settled payment is answered as it is: no write, so a stream of
  -- verifies on it costs no row version.
  if private._is_settled(v.state, v.failure_reason) then
    return pg_catalog.jsonb_build_object('changed', false, 'payment', private._payment_json(v));
  end if;
  v := private._apply_fence(v, p_fence);
  v_changed := v.state = 'pending';
  v := private._start_processing(v, p_actor, p_reason);
  return pg_catalog.jsonb_build_object('changed', v_changed, 'payment', private._payment_json(v));
end
$$;

-- -----------------------------------------------------------------------------
-- transition_payment: the generic writer for staff and tests, with optimistic
-- locking: the UPDATE only matches the version the caller read, so a change
-- made in between is never overwritten silently. When nothing matched, the
-- row is read once more to say why: missing (PM004), another version (PM002),
-- a stale fence (PM003) or already in that state (PM001). Illegal moves are
-- refused by the trigger (PM001).
-- -----------------------------------------------------------------------------
create function public.transition_payment(
  p_reference text,
  p_to public.payment_state,
  p_expected_lock_version integer,
  p_actor text,
  p_reason text default null,
  p_fence bigint default null
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v public.payment_logs;
begin
  if p_to is null or p_expected_lock_version is null then
    raise exception using errcode = 'PM008', message = 'Target state and expected lock version are required';
  end if;
  perform private._set_actor(p_actor, p_reason);
  update public.payment_logs
     set state = p_to,
         last_fence = greatest(last_fence, p_fence)
   where reference = p_reference
     and lock_version = p_expected_lock_version
     and state <> p_to
     and (p_fence is null or last_fence is null or p_fence >= last_fence)
  returning * into v;
  if found then
    return private._payment_json(v);
  end if;

  select * into v from public.payment_logs where reference = p_reference;
  if not found then
    raise exception using errcode = 'PM004', message = format('Payment %s not found', p_reference);
  elsif v.lock_version <> p_expected_lock_version then
    raise exception using
      errcode = 'PM002',
      message = format('Payment %s is at version %s, expected %s', p_reference, v.lock_version, p_expected_lock_version);
  elsif p_fence is not null and v.last_fence is not null and p_fence < v.last_fence then
    raise exception using
      errcode = 'PM003',
      message = format('Stale fencing token %s for payment %s: %s already seen', p_fence, p_reference, v.last_fence);
  end if;
  raise exception using
    errcode = 'PM001',
    message = format('Cannot move payment %s from %s to %s', p_reference, v.state, p_to);
end
$$;

-- -----------------------------------------------------------------------------
-- Privileges: only the service (service_role) calls the RPCs; helpers and
-- trigger functions are callable by the owner alone.
-- -----------------------------------------------------------------------------
revoke execute on function
  private._is_mismatch(text),
  private._is_settled(public.payment_state, text),
  private._iso(timestamptz),
  private._payment_json(public.payment_logs),
  private._set_actor(text, text),
  private._page(jsonb, integer),
  private._payment_state_guard(),
  private._apply_fence(public.payment_logs, bigint),
  private._lock_payment(text, bigint),
  private._start_processing(public.payment_logs, text, text),
  private._payment_by_provider_reference(text)
  from public, anon, authenticated, service_role;

revoke execute on function
  public.get_payment(uuid, text),
  public.get_payment_by_reference(text),
  public.list_payments(uuid, integer, timestamptz, uuid),
  public.mark_processing(text, bigint, text, text, uuid),
  public.transition_payment(text, public.payment_state, integer, text, text, bigint),
  public.max_fence()
  from public, anon, authenticated;

grant execute on function
  public.get_payment(uuid, text),
  public.get_payment_by_reference(text),
  public.list_payments(uuid, integer, timestamptz, uuid),
  public.mark_processing(text, bigint, text, text, uuid),
  public.transition_payment(text, public.payment_state, integer, text, text, bigint),
  public.max_fence()
  to service_role;
