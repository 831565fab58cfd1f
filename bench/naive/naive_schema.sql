-- =============================================================================
-- The naive design, for comparison only (bench/, never deployed): what most
-- Supabase payment tutorials ship. A payments table with a status column, a
-- wallet with a balance, a transactions list — and no row locks, no state
-- machine, no unique credit per payment, no fence, no event record.
--
-- PostgREST serves tables, and the local RPC gateway serves only functions,
-- so each `.from(table).select()/.update()/.insert()` of the tutorial is one
-- function here holding exactly that one statement: one HTTP request, one
-- transaction, as through PostgREST.
-- =============================================================================
create schema naive;

create table naive.payments (
  reference text primary key,
  user_id uuid not null,
  amount bigint not null,
  currency text not null,
  status text not null default 'pending',
  paid_at timestamptz
);

create table naive.wallets (
  user_id uuid primary key,
  balance bigint not null default 0
);

-- Nothing stops two rows for one payment: that is the point.
create table naive.transactions (
  id bigserial primary key,
  reference text not null,
  user_id uuid not null,
  amount bigint not null,
  created_at timestamptz not null default clock_timestamp()
);

-- .from('payments').select('*').eq('reference', ref).single()
create function naive.get_payment(p_reference text) returns jsonb
language sql stable as $$
  select to_jsonb(p) from naive.payments p where p.reference = p_reference
$$;

-- .from('wallets').select('balance').eq('user_id', uid).single()
create function naive.get_wallet(p_user_id uuid) returns jsonb
language sql stable as $$
  select to_jsonb(w) from naive.wallets w where w.user_id = p_user_id
$$;

-- .from('wallets').update({ balance: wallet.balance + payment.amount }).eq('user_id', uid)
create function naive.set_balance(p_user_id uuid, p_balance bigint) returns void
language sql as $$
  update naive.wallets set balance = p_balance where user_id = p_user_id
$$;

-- .from('transactions').insert({ reference, user_id, amount })
create function naive.add_transaction(p_reference text, p_user_id uuid, p_amount bigint) returns void
language sql as $$
  insert into naive.transactions (reference, user_id, amount) values (p_reference, p_user_id, p_amount)
$$;

-- .from('payments').update({ status: 'success', paid_at: new Date() }).eq('reference', ref)
create function naive.set_status(p_reference text, p_status text) returns void
language sql as $$
  update naive.payments set status = p_status, paid_at = now() where reference = p_reference
$$;

grant usage on schema naive to service_role;
grant select, insert, update on all tables in schema naive to service_role;
grant usage on all sequences in schema naive to service_role;
grant execute on all functions in schema naive to service_role;
