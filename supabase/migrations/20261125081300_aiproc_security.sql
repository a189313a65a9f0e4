-- Only the service role reaches aiproc. Row Level Security is on for every table with no policy
-- for anon/authenticated, so even a stray grant exposes nothing; Supabase's service_role
-- bypasses RLS. The roles are Supabase's: on plain Postgres and PGlite they may not exist, so
-- every grant and revoke that names one is guarded.

alter table aiproc.jobs enable row level security;
alter table aiproc.parts enable row level security;
alter table aiproc.job_events enable row level security;
alter table aiproc.inbox enable row level security;
alter table aiproc.ratings enable row level security;
alter table aiproc.rules enable row level security;
alter table aiproc.rule_applications enable row level security;
alter table aiproc.performance_reports enable row level security;

-- Functions are executable by PUBLIC by default: not these.
revoke all on schema aiproc from public;
revoke all on all tables in schema aiproc from public;
revoke all on all functions in schema aiproc from public;
alter default privileges in schema aiproc revoke execute on functions from public;

do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('revoke all on schema aiproc from %I', r);
      execute format('revoke all on all tables in schema aiproc from %I', r);
      execute format('revoke all on all sequences in schema aiproc from %I', r);
      execute format('revoke all on all functions in schema aiproc from %I', r);
    end if;
  end loop;
  if exists (select from pg_roles where rolname = 'service_role') then
    grant usage on schema aiproc to service_role;
    grant select, insert, update, delete on all tables in schema aiproc to service_role;
    grant usage, select on all sequences in schema aiproc to service_role;
    grant execute on all functions in schema aiproc to service_role;
  end if;
end $$;
