-- =============================================================================
-- Plain-Postgres bootstrap: make a bare Postgres (or PGlite) look like the
-- database Supabase provisions, so that supabase/migrations apply unchanged.
--
-- Never run this against a real Supabase project: there these objects already
-- exist and belong to Supabase. Every statement is idempotent, because roles
-- are cluster-wide and many test databases share one cluster.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Roles (as created by supabase/postgres' init scripts)
-- -----------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  -- service_role bypasses RLS: it is the key our service holds.
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- authenticator is the role PostgREST logs in as before SET ROLE.
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator noinherit login;
  end if;
exception
  -- Two databases bootstrapping at once may race on the cluster-wide roles.
  when duplicate_object or unique_violation then null;
end
$$;

grant anon, authenticated, service_role to authenticator;

-- -----------------------------------------------------------------------------
-- Schema auth: the parts of GoTrue's schema that application SQL relies on
-- -----------------------------------------------------------------------------
create schema if not exists auth;

create table if not exists auth.users (
  id uuid primary key,
  email text,
  role text default 'authenticated',
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

-- Supabase reads the claims PostgREST sets per request. Both the legacy
-- per-claim settings and the current request.jwt.claims JSON are honoured.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid(), auth.role(), auth.jwt()
  to anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Schema public: Supabase's default grants. RLS and explicit revokes in the
-- migrations narrow them, exactly as they must on a real project.
-- -----------------------------------------------------------------------------
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on functions to anon, authenticated, service_role;

-- No extensions are needed: gen_random_uuid() and sha256() are built in
-- (Postgres >= 13), which keeps PGlite and real Supabase on the same SQL.
