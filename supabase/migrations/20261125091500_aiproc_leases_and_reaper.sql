-- Synthesis leases that hold as long as a healthy synthesis runs, can be given back on failure,
-- and count attempts; a reaper query for jobs that stopped moving; redelivered tasks of parts
-- already answered are skipped.

alter table aiproc.jobs add column if not exists synthesis_attempts integer not null default 0;

-- As before, and each claim counts as an attempt (recovery gives up after enough of them).
create or replace function aiproc.claim_synthesis(p_job_id text, p_claimant text, p_lease_seconds double precision)
returns text language plpgsql set search_path = '' as $$
declare
  v_status text;
  v_until timestamptz;
begin
  select j.status, j.synthesis_lease_until into v_status, v_until from aiproc.jobs j where j.id = p_job_id for update;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  if v_status in ('completed', 'failed', 'cancelled') then
    return 'done';
  end if;
  if v_until is not null and v_until > now() then
    return 'busy';
  end if;
  update aiproc.jobs
     set synthesis_claimant = p_claimant, synthesis_claimed_at = now(),
         synthesis_lease_until = now() + make_interval(secs => greatest(coalesce(p_lease_seconds, 0), 0)),
         synthesis_attempts = synthesis_attempts + 1,
         status = 'merging', updated_at = now()
   where id = p_job_id;
  return 'claimed';
end $$;

-- Extends the lease of the claimant that holds it; false when it no longer does.
create function aiproc.renew_synthesis(p_job_id text, p_claimant text, p_lease_seconds double precision)
returns boolean language plpgsql set search_path = '' as $$
begin
  update aiproc.jobs
     set synthesis_lease_until = now() + make_interval(secs => greatest(coalesce(p_lease_seconds, 0), 0)), updated_at = now()
   where id = p_job_id and synthesis_claimant = p_claimant and status = 'merging';
  return found;
end $$;

-- Gives the lease back after a failed attempt, so a retry need not wait for it to run out.
create function aiproc.release_synthesis(p_job_id text, p_claimant text)
returns void language plpgsql set search_path = '' as $$
begin
  update aiproc.jobs
     set synthesis_lease_until = null, synthesis_claimant = null, updated_at = now()
   where id = p_job_id and synthesis_claimant = p_claimant and status = 'merging';
end $$;

-- Unfinished jobs with no change for p_seconds: their work was lost (a process died with the
-- in-process queues, a message was dropped) and they are failed visibly rather than left running.
create function aiproc.stale_jobs(p_seconds double precision)
returns table (job_id text) language sql stable set search_path = '' as $$
  select j.id from aiproc.jobs j
   where j.status in ('planning', 'running', 'merging')
     and j.updated_at < now() - make_interval(secs => greatest(coalesce(p_seconds, 0), 0))
   order by j.updated_at
   limit 500
$$;

-- A task delivered again after its part was answered (a redelivery) is skipped like a cancelled one.
create or replace function aiproc.start_part(p_job_id text, p_index integer)
returns table (attempt integer, cancelled boolean) language plpgsql set search_path = '' as $$
#variable_conflict use_column
declare
  v_job_status text;
  v_attempts integer;
  v_status text;
begin
  select j.status into v_job_status from aiproc.jobs j where j.id = p_job_id;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  select p.status, p.attempts into v_status, v_attempts from aiproc.parts p where p.job_id = p_job_id and p.idx = p_index;
  if not found then
    if v_job_status = 'cancelled' then
      return query select 0, true;
      return;
    end if;
    raise exception 'part % of job % not found', p_index, p_job_id using errcode = 'P0002';
  end if;
  if v_status in ('completed', 'failed', 'cancelled') or v_job_status in ('completed', 'failed', 'cancelled') then
    return query select v_attempts, true;
    return;
  end if;
  update aiproc.parts p
     set attempts = p.attempts + 1, status = 'running', started_at = now()
   where p.job_id = p_job_id and p.idx = p_index
  returning p.attempts into v_attempts;
  update aiproc.jobs set updated_at = now() where id = p_job_id;
  return query select v_attempts, false;
end $$;

revoke all on function aiproc.renew_synthesis(text, text, double precision) from public;
revoke all on function aiproc.release_synthesis(text, text) from public;
revoke all on function aiproc.stale_jobs(double precision) from public;
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('revoke all on function aiproc.renew_synthesis(text, text, double precision) from %I', r);
      execute format('revoke all on function aiproc.release_synthesis(text, text) from %I', r);
      execute format('revoke all on function aiproc.stale_jobs(double precision) from %I', r);
    end if;
  end loop;
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.renew_synthesis(text, text, double precision) to service_role;
    grant execute on function aiproc.release_synthesis(text, text) to service_role;
    grant execute on function aiproc.stale_jobs(double precision) to service_role;
  end if;
end $$;
