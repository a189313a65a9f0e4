-- AIPROC_MAX_JOBS_PER_KEY, checked in the same step as the insert. The splitter checks the limit
-- before it starts a job (principal_usage), but two requests at the same instant (or on two
-- splitter instances) can both read "room for one more" and both insert. Given a limit,
-- create_job now counts the principal's (or the gateway's end user's) unfinished jobs under a
-- transaction-scoped advisory lock for that scope and refuses with SQLSTATE 53400
-- (configuration_limit_exceeded) when they reach it; the store turns that into a 429.

drop function aiproc.create_job(text, text, jsonb, text, boolean, jsonb, text, text);

create function aiproc.create_job(p_id text, p_model text, p_messages jsonb, p_owner text, p_stream boolean, p_meta jsonb,
                                  p_principal text, p_principal_role text,
                                  p_limit_principal text default null, p_limit_user text default null, p_max_active integer default null)
returns boolean language plpgsql set search_path = '' as $$
declare
  v_active integer;
begin
  if coalesce(p_max_active, 0) > 0 and p_limit_principal is not null then
    -- Held until the transaction ends: the next request of the same scope counts this job.
    perform pg_advisory_xact_lock(hashtextextended('aiproc.create_job:' || p_limit_principal || ':' || coalesce(p_limit_user, ''), 0));
    select count(*)::integer into v_active from aiproc.jobs j
     where j.principal = p_limit_principal
       and (p_limit_user is null or j.meta ->> 'user' = p_limit_user)
       and j.status in ('planning', 'running', 'merging');
    if v_active >= p_max_active then
      raise exception '% jobs running; at most % at once (AIPROC_MAX_JOBS_PER_KEY)', v_active, p_max_active using errcode = '53400';
    end if;
  end if;
  insert into aiproc.jobs (id, model, messages, owner, stream, meta, principal, principal_role)
  values (p_id, p_model, coalesce(p_messages, '[]'::jsonb), p_owner, coalesce(p_stream, false), coalesce(p_meta, '{}'::jsonb),
          coalesce(p_principal, 'unknown'), coalesce(p_principal_role, 'unknown'))
  on conflict (id) do nothing;
  return found;
end $$;

-- The same grants as the function this one replaces.
revoke all on function aiproc.create_job(text, text, jsonb, text, boolean, jsonb, text, text, text, text, integer) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.create_job(text, text, jsonb, text, boolean, jsonb, text, text, text, text, integer) to service_role;
  end if;
end $$;
