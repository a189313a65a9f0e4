-- jobs_awaiting_synthesis returns rows ({ job_id }) rather than a set of scalars: PostgREST and
-- every driver then agree on one shape.
drop function aiproc.jobs_awaiting_synthesis(double precision);

create function aiproc.jobs_awaiting_synthesis(p_lease_seconds double precision)
returns table (job_id text) language sql stable set search_path = '' as $$
  select j.id
    from aiproc.jobs j
   where j.status in ('running', 'merging')
     and exists (select from aiproc.parts p where p.job_id = j.id)
     and not exists (select from aiproc.parts p where p.job_id = j.id and p.status in ('pending', 'running'))
     and (j.synthesis_claimed_at is null
          or least(j.synthesis_lease_until,
                   j.synthesis_claimed_at + make_interval(secs => greatest(coalesce(p_lease_seconds, 0), 0))) <= now())
   order by j.created_at;
$$;

revoke all on function aiproc.jobs_awaiting_synthesis(double precision) from public;
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('revoke all on function aiproc.jobs_awaiting_synthesis(double precision) from %I', r);
    end if;
  end loop;
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.jobs_awaiting_synthesis(double precision) to service_role;
  end if;
end $$;
