-- =============================================================================
-- Payments schema: the tables that hold money and the evidence for it.
--
-- Money is a bigint number of minor units (kobo, cents) plus an ISO 4217 code;
-- no floats anywhere. Every table has RLS on. Clients (anon, authenticated) may
-- only read their own wallet, payments and ledger entries; nobody writes
-- directly: every write goes through the security-definer RPC functions of the
-- later migrations, which run as the table owner.
--
-- Errors raised by this project's SQL use SQLSTATE class PM (mirrored in
-- src/store/sql_states.ts, which a test keeps equal to the errcodes raised here):
--   PM001 illegal_transition      PM006 insufficient_balance
--   PM002 stale_payment_version   PM007 ledger_append_only
--   PM003 stale_fence             PM008 invalid_argument
--   PM004 payment_not_found       PM009 idempotency_key_reused
--   PM005 refund_exceeds_payment  PM010 payment_not_refundable
-- =============================================================================

-- -----------------------------------------------------------------------------
-- private: helper and trigger functions (the `_`-prefixed ones). PostgREST
-- exposes only `public`, so nothing here is reachable through the API or
-- listed in its schema cache; the RPC functions call them as the owner.
-- -----------------------------------------------------------------------------
create schema private;
revoke all on schema private from public;

-- -----------------------------------------------------------------------------
-- payment_state: the closed set of states (transitions: next migration).
-- -----------------------------------------------------------------------------
create type public.payment_state as enum ('pending', 'processing', 'completed', 'failed', 'refunded');

-- -----------------------------------------------------------------------------
-- wallets: one row per (user, currency). This fixed row is what the credit
-- path locks FOR UPDATE, never "the latest ledger row" (which changes on every
-- write and so serialises nothing). The check keeps a balance from ever going
-- negative, whatever the code above it does.
-- -----------------------------------------------------------------------------
create table public.wallets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  balance bigint not null default 0 check (balance >= 0),
  -- Reserved for refunds in flight at the provider: spendable credit is
  -- balance − held, so a refund the provider is paying out can never find
  -- its credit spent when it completes. Never more than the balance.
  held bigint not null default 0 constraint wallets_held_check check (held >= 0 and held <= balance),
  lock_version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, currency)
);

-- -----------------------------------------------------------------------------
-- payment_logs: one row per payment attempt. `reference` is ours and is sent
-- to the provider, so it uses only the characters Paystack accepts. The state
-- columns (state_transitions, lock_version, processing_*_at) are owned by the
-- state-machine trigger; callers cannot forge them.
-- `idempotency_key` is kept for audit only: the idempotency record owns
-- uniqueness (an expired key may be reused and create a second payment).
-- -----------------------------------------------------------------------------
create table public.payment_logs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  -- Never `.r` inside: `<reference>.r<n>` names a later provider attempt.
  reference text not null unique check (reference ~ '^[A-Za-z0-9.=-]{1,100}$' and position('.r' in reference) = 0),
  -- The reference the provider knows for the current attempt: `reference`
  -- itself, or `<reference>.r<n>` once initialization had to open a new
  -- provider transaction (a crash lost the first one's checkout, which
  -- Paystack cannot hand back; see open_provider_attempt). Webhooks and
  -- verify resolve any attempt back to this payment. Set by the state guard
  -- on insert.
  provider_reference text not null unique check (provider_reference ~ '^[A-Za-z0-9.=-]{1,100}$'),
  provider_attempt integer not null default 1 check (provider_attempt >= 1),
  idempotency_key text,
  provider text not null default 'paystack' check (length(provider) between 1 and 50),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  email text,
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  state public.payment_state not null default 'pending',
  state_transitions jsonb not null default '[]'::jsonb check (jsonb_typeof(state_transitions) = 'array'),
  lock_version integer not null default 0,
  processing_started_at timestamptz,
  processing_completed_at timestamptz,
  refunded_amount bigint not null default 0 check (refunded_amount between 0 and amount),
  provider_payload jsonb,
  authorization_url text,
  access_code text,
  failure_reason text,
  -- Highest fencing token seen from a lock holder; smaller tokens are refused.
  last_fence bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- A user's payments, newest first, keyset-paginated on (created_at, id).
create index payment_logs_user_created_idx on public.payment_logs (user_id, created_at desc, id desc);
-- max(last_fence) in one index probe: the floor the lock's fence counter is
-- raised to when Redis lost it (see max_fence()).
create index payment_logs_last_fence_idx on public.payment_logs (last_fence) where last_fence is not null;
-- Reconciliation scans only the unsettled payments.
create index payment_logs_unsettled_idx on public.payment_logs (state, updated_at)
  where state in ('pending', 'processing');

-- -----------------------------------------------------------------------------
-- sms_transactions: the append-only ledger. Each wallet's balance must equal
-- the sum of its entries (credits minus refunds and debits); see
-- check_ledger_invariants(). `idempotency_key` is derived from what the entry
-- is for (e.g. `credit:<payment id>`), so a retried write collides instead of
-- landing twice.
-- -----------------------------------------------------------------------------
create table public.sms_transactions (
  id uuid primary key default gen_random_uuid(),
  reference text not null unique,
  idempotency_key text not null unique,
  payment_log_id uuid references public.payment_logs (id),
  user_id uuid not null,
  wallet_id uuid not null references public.wallets (id),
  type text not null check (type in ('credit', 'refund', 'debit')),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  balance_after bigint not null check (balance_after >= 0),
  -- The refund a `refund` entry settles (one entry per refund, by its
  -- idempotency_key `refund:<id>`).
  refund_id uuid,
  -- Why a `debit` was taken (the SMS platform's words), and the fingerprint
  -- of the request that took it: a replayed Idempotency-Key with another
  -- request is refused instead of answered.
  reason text,
  request_fingerprint text,
  created_at timestamptz not null default now()
);

-- Exactly-once credit, enforced by the database: a second credit for the same
-- payment is a unique violation, whatever raced to write it.
create unique index sms_transactions_one_credit_per_payment on public.sms_transactions (payment_log_id)
  where type = 'credit';
create index sms_transactions_user_created_idx on public.sms_transactions (user_id, created_at desc, id desc);
create index sms_transactions_wallet_idx on public.sms_transactions (wallet_id);

-- The ledger is evidence: entries are never changed or removed. A correction
-- is a new entry. Even the table owner goes through this trigger (only a
-- superuser disabling it can get past, which is what the invariant tests do).
create function private._ledger_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = 'PM007',
    message = format('The ledger is append-only: %s on sms_transactions is refused', tg_op);
end
$$;

create trigger sms_transactions_append_only
  before update or delete on public.sms_transactions
  for each row execute function private._ledger_append_only();

create trigger sms_transactions_no_truncate
  before truncate on public.sms_transactions
  for each statement execute function private._ledger_append_only();

-- -----------------------------------------------------------------------------
-- idempotency_keys: HTTP idempotency records (Brandur's recovery points).
-- (user_id, key) is the only uniqueness of a client's key: scoping by user
-- means one client can never see another's stored response.
-- -----------------------------------------------------------------------------
create table public.idempotency_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  key text not null check (length(key) between 1 and 255),
  request_method text not null,
  request_path text not null,
  -- SHA-256 over method, path and canonical body: same key + other payload = mismatch.
  request_fingerprint text not null,
  -- Set while a request runs; older than the lock timeout = abandoned, taken over.
  locked_at timestamptz,
  -- started: nothing done yet; payment_created: payment row exists, provider
  -- not (known to be) called; finished: response stored, replayed from now on.
  recovery_point text not null default 'started'
    check (recovery_point in ('started', 'payment_created', 'finished')),
  payment_log_id uuid unique references public.payment_logs (id),
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  last_run_at timestamptz not null default now(),
  expires_at timestamptz not null,
  unique (user_id, key)
);

create index idempotency_keys_expires_idx on public.idempotency_keys (expires_at);

-- -----------------------------------------------------------------------------
-- webhook_events: every provider event received, deduplicated by
-- (provider, event_key). processed_at is set only in the transaction that
-- committed the event's effect, so a failed attempt is retried, never skipped.
-- -----------------------------------------------------------------------------
create table public.webhook_events (
  id uuid primary key default gen_random_uuid(),
  provider text not null,
  event_key text not null,
  event_type text not null,
  reference text,
  payload jsonb not null default '{}'::jsonb,
  received_at timestamptz not null default now(),
  attempts integer not null default 1,
  processed_at timestamptz,
  -- What processing the event did (src/payments/payment_store.ts
  -- WEBHOOK_EVENT_OUTCOMES mirrors this list; a test compares them).
  outcome text check (outcome in (
    'credited', 'already_credited', 'mismatch', 'not_creditable', 'failed', 'already_settled', 'unknown_reference',
    'refund_updated', 'unknown_refund')),
  unique (provider, event_key)
);

create index webhook_events_reference_idx on public.webhook_events (reference);

-- -----------------------------------------------------------------------------
-- refund_requests: inserted by staff (dashboard / SQL); a Supabase Database
-- Webhook on INSERT asks the service to execute the refund. amount null means
-- a full refund. begin_refund (refunds_debits migration) turns a row into a
-- refund and records the outcome here; see handle_database_event.
-- -----------------------------------------------------------------------------
create table public.refund_requests (
  id uuid primary key default gen_random_uuid(),
  payment_reference text not null references public.payment_logs (reference),
  amount bigint check (amount is null or amount > 0),
  reason text not null check (length(reason) > 0),
  requested_by text,
  status text not null default 'pending' check (status in ('pending', 'processing', 'succeeded', 'failed')),
  -- Written by the service in the transaction that acts on the request, so a
  -- redelivered Database Webhook finds it already handled.
  refund_id uuid unique,
  provider_refund_id text,
  failure_reason text,
  created_at timestamptz not null default now(),
  processed_at timestamptz
);

-- -----------------------------------------------------------------------------
-- refunds: one row per refund, whoever asked (the API or a refund_requests
-- row). Provider refunds are asynchronous, so a refund lives through states:
--   pending          the amount is reserved (wallets.held) but the provider
--                    may not know the refund yet (not sent, or the answer was
--                    lost): a retry first looks it up by merchant note
--   processing       the provider accepted it and is paying out
--   needs_attention  the provider needs a human; the amount stays reserved
--   processed        money returned: ledger `refund` entry, balance debited,
--                    the payment's refunded_amount raised — one transaction
--   failed           refused or failed at the provider: reservation released
-- request_key makes each request idempotent (`api:<Idempotency-Key>` or
-- `refund_request:<id>`); submitting_at claims the one provider call.
-- -----------------------------------------------------------------------------
create type public.refund_state as enum ('pending', 'processing', 'needs_attention', 'processed', 'failed');

create table public.refunds (
  id uuid primary key default gen_random_uuid(),
  payment_log_id uuid not null references public.payment_logs (id),
  user_id uuid not null,
  wallet_id uuid not null references public.wallets (id),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  reason text not null check (length(reason) between 1 and 500),
  request_key text not null unique check (length(request_key) between 1 and 400),
  request_fingerprint text not null,
  refund_request_id uuid unique references public.refund_requests (id),
  state public.refund_state not null default 'pending',
  provider_refund_id text unique,
  provider_status text,
  provider_payload jsonb,
  failure_reason text,
  submit_attempts integer not null default 0,
  submitting_at timestamptz,
  submitted_at timestamptz,
  settled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index refunds_payment_idx on public.refunds (payment_log_id, created_at);
-- Reconciliation re-checks only the refunds still in flight.
create index refunds_in_flight_idx on public.refunds (state, updated_at)
  where state in ('pending', 'processing', 'needs_attention');

create index refund_requests_payment_idx on public.refund_requests (payment_reference);

-- -----------------------------------------------------------------------------
-- Row level security. Supabase's default privileges grant everything on new
-- tables to anon and authenticated; take writes away from both, and let a
-- signed-in user read only their own money rows, and of those only the
-- columns the HTTP API shows them. service_role bypasses RLS.
-- -----------------------------------------------------------------------------
alter table public.wallets enable row level security;
alter table public.payment_logs enable row level security;
alter table public.sms_transactions enable row level security;
alter table public.idempotency_keys enable row level security;
alter table public.webhook_events enable row level security;
alter table public.refund_requests enable row level security;
alter table public.refunds enable row level security;

revoke all on table
  public.wallets, public.payment_logs, public.sms_transactions,
  public.idempotency_keys, public.webhook_events, public.refund_requests, public.refunds
  from anon, authenticated;

-- Column grants, not table grants: the table API (`/rest/v1/<table>`) would
-- otherwise hand a user the internals of their own rows (provider payload,
-- access code, idempotency keys, fencing tokens, ids of other tables). Each
-- list is exactly what the HTTP API shows: paymentView (GET
-- /v1/payments/:reference), the balances and ledger entries of GET
-- /v1/wallet. Selecting any other column (or `*`) is 42501. RLS policies may
-- still use user_id: a policy's own column references need no grant. A new
-- column is private until it is added here.
grant select (
  reference, state, amount, currency, provider, email, metadata, authorization_url,
  refunded_amount, failure_reason, lock_version, state_transitions,
  processing_started_at, processing_completed_at, created_at, updated_at
) on table public.payment_logs to authenticated;
grant select (currency, balance, held, updated_at) on table public.wallets to authenticated;
grant select (id, reference, type, amount, currency, balance_after, created_at)
  on table public.sms_transactions to authenticated;

-- `(select auth.uid())` is evaluated once per statement, not once per row.
create policy "Users read their own wallets" on public.wallets
  for select to authenticated using (user_id = (select auth.uid()));
create policy "Users read their own payments" on public.payment_logs
  for select to authenticated using (user_id = (select auth.uid()));
create policy "Users read their own ledger entries" on public.sms_transactions
  for select to authenticated using (user_id = (select auth.uid()));

revoke execute on function private._ledger_append_only() from public, anon, authenticated, service_role;
