-- What a principal (or a gateway's end user) uses, for the limits (OWASP LLM10, unbounded
-- consumption): its unfinished jobs, and the tokens of its jobs made in the last p_since_seconds.
-- p_principal null = every job (not used by the limits, which always name one).

create function aiproc.principal_usage(p_principal text, p_user text, p_since_seconds integer)
returns table (active integer, tokens bigint, oldest_at timestamptz)
language sql stable set search_path = '' as $$
  with mine as (
    select j.* from aiproc.jobs j
     where (p_principal is null or j.principal = p_principal)
       and (p_user is null or j.meta ->> 'user' = p_user)
  ), recent as (
    select m.id, m.created_at,
           m.plan_prompt_tokens + m.plan_completion_tokens + m.synthesis_prompt_tokens + m.synthesis_completion_tokens
           + coalesce((select sum(p.prompt_tokens + p.completion_tokens) from aiproc.parts p where p.job_id = m.id), 0) as tokens
      from mine m
     where m.created_at > now() - make_interval(secs => p_since_seconds)
  )
  select (select count(*)::integer from mine where status in ('planning', 'running', 'merging')),
         (select coalesce(sum(tokens), 0)::bigint from recent),
         (select min(created_at) from recent);
$$;

revoke all on function aiproc.principal_usage(text, text, integer) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.principal_usage(text, text, integer) to service_role;
  end if;
end $$;
