-- Every job records who asked: the principal (`<role>:<name>` of the API key, `local` with no
-- keys configured) and its role. Jobs made before this migration are `unknown`: only an admin
-- sees them. A user's reads filter on principal; a gateway's end user on meta ->> 'user' too.

alter table aiproc.jobs add column if not exists principal text not null default 'unknown';
alter table aiproc.jobs add column if not exists principal_role text not null default 'unknown';
create index if not exists jobs_principal_idx on aiproc.jobs (principal, created_at desc);

drop function if exists aiproc.create_job(text, text, jsonb, text, boolean, jsonb);

create function aiproc.create_job(p_id text, p_model text, p_messages jsonb, p_owner text, p_stream boolean, p_meta jsonb,
                                  p_principal text, p_principal_role text)
returns boolean language sql set search_path = '' as $$
  with ins as (
    insert into aiproc.jobs (id, model, messages, owner, stream, meta, principal, principal_role)
    values (p_id, p_model, coalesce(p_messages, '[]'::jsonb), p_owner, coalesce(p_stream, false), coalesce(p_meta, '{}'::jsonb),
            coalesce(p_principal, 'unknown'), coalesce(p_principal_role, 'unknown'))
    on conflict (id) do nothing
    returning 1
  )
  select exists (select from ins);
$$;

-- The same grants as the security migration gave the function this one replaces.
revoke all on function aiproc.create_job(text, text, jsonb, text, boolean, jsonb, text, text) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.create_job(text, text, jsonb, text, boolean, jsonb, text, text) to service_role;
  end if;
end $$;
