-- The atomic writes. Named parameters (p_…) so supabase-js can call them: .rpc('record_part', { p_job_id, … }).
-- Missing jobs, parts and rules raise SQLSTATE P0002 (no_data_found); bad values 22023.
-- search_path is empty so nothing a caller sets can redirect a name: everything is qualified.

create function aiproc.create_job(p_id text, p_model text, p_messages jsonb, p_owner text, p_stream boolean, p_meta jsonb)
returns boolean language sql set search_path = '' as $$
  with ins as (
    insert into aiproc.jobs (id, model, messages, owner, stream, meta)
    values (p_id, p_model, coalesce(p_messages, '[]'::jsonb), p_owner, coalesce(p_stream, false), coalesce(p_meta, '{}'::jsonb))
    on conflict (id) do nothing
    returning 1
  )
  select exists (select from ins);
$$;

-- Stores the plan and one pending part per entry, once: a repeated call changes nothing.
create function aiproc.set_plan(p_job_id text, p_plan jsonb, p_fast_path boolean,
                                p_prompt_tokens integer default 0, p_completion_tokens integer default 0)
returns boolean language plpgsql set search_path = '' as $$
declare
  v_status text;
begin
  select j.status into v_status from aiproc.jobs j where j.id = p_job_id for update;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  if v_status <> 'planning' then
    return false;
  end if;
  if jsonb_typeof(p_plan) is distinct from 'array' or jsonb_array_length(p_plan) = 0 then
    raise exception 'a plan needs at least one part' using errcode = '22023';
  end if;
  update aiproc.jobs
     set plan = p_plan, fast_path = coalesce(p_fast_path, false), status = 'running', updated_at = now(),
         plan_prompt_tokens = coalesce(p_prompt_tokens, 0), plan_completion_tokens = coalesce(p_completion_tokens, 0)
   where id = p_job_id;
  insert into aiproc.parts (job_id, idx, title, prompt, model)
  select p_job_id, (e ->> 'index')::integer, e ->> 'title', e ->> 'prompt', e ->> 'model'
    from jsonb_array_elements(p_plan) e;
  return true;
end $$;

-- Counts an attempt and marks the part running. Says 'cancelled' (skip the work) when there is
-- nothing to do: the job was cancelled or ended, or the part was already answered (a redelivery).
create function aiproc.start_part(p_job_id text, p_index integer)
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

-- Records a part's result once and says, in the same transaction, whether every part is now in.
-- The job's row lock serialises the results of one job: of two last parts landing together,
-- the later one waits for the earlier to commit, then sees both and answers complete.
create function aiproc.record_part(p_job_id text, p_index integer, p_status text, p_output text, p_error text,
                                              p_prompt_tokens integer, p_completion_tokens integer,
                                              p_started_at timestamptz, p_finished_at timestamptz, p_attempts integer)
returns table (recorded boolean, complete boolean) language plpgsql set search_path = '' as $$
#variable_conflict use_column
declare
  v_job_status text;
  v_recorded boolean;
  v_complete boolean;
begin
  if p_status is null or p_status not in ('completed', 'failed') then
    raise exception 'a part result is completed or failed, not %', p_status using errcode = '22023';
  end if;
  -- The job's row lock serialises the results of one job (see 20261125081100_aiproc_functions.sql).
  select j.status into v_job_status from aiproc.jobs j where j.id = p_job_id for update;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  update aiproc.parts p
     set status = p_status, output = p_output, error = p_error,
         prompt_tokens = coalesce(p_prompt_tokens, 0), completion_tokens = coalesce(p_completion_tokens, 0),
         started_at = coalesce(p_started_at, p.started_at),
         finished_at = coalesce(p_finished_at, now()),
         duration_ms = (extract(epoch from coalesce(p_finished_at, now()) - coalesce(p_started_at, p.started_at)) * 1000)::integer,
         attempts = greatest(p.attempts, coalesce(p_attempts, 0))
   where p.job_id = p_job_id and p.idx = p_index and p.status in ('pending', 'running');
  v_recorded := found;
  if not v_recorded and not exists (select from aiproc.parts p where p.job_id = p_job_id and p.idx = p_index) then
    if v_job_status = 'cancelled' then
      return query select false, true;
      return;
    end if;
    raise exception 'part % of job % not found', p_index, p_job_id using errcode = 'P0002';
  end if;
  if v_recorded then
    update aiproc.jobs j set updated_at = now() where j.id = p_job_id;
  end if;
  select not exists (select from aiproc.parts p where p.job_id = p_job_id and p.status in ('pending', 'running'))
    into v_complete;
  return query select v_recorded, v_complete;
end $$;

-- 'claimed' once per job (again once the lease ran out or was released without completion), 'done'
-- once the job finished, 'busy' while someone holds a live lease. Each claim counts as an attempt.
create function aiproc.claim_synthesis(p_job_id text, p_claimant text, p_lease_seconds double precision)
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

create function aiproc.complete_job(p_job_id text, p_answer text, p_prompt_tokens integer, p_completion_tokens integer)
returns boolean language plpgsql set search_path = '' as $$
begin
  update aiproc.jobs
     set status = 'completed', answer = p_answer, completed_at = now(), updated_at = now(),
         synthesis_prompt_tokens = coalesce(p_prompt_tokens, 0), synthesis_completion_tokens = coalesce(p_completion_tokens, 0)
   where id = p_job_id and status in ('planning', 'running', 'merging');
  if found then
    return true;
  end if;
  if not exists (select from aiproc.jobs j where j.id = p_job_id) then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  return false;
end $$;

create function aiproc.fail_job(p_job_id text, p_error text)
returns boolean language plpgsql set search_path = '' as $$
begin
  update aiproc.jobs set status = 'failed', error = p_error, updated_at = now()
   where id = p_job_id and status in ('planning', 'running', 'merging');
  if found then
    return true;
  end if;
  if not exists (select from aiproc.jobs j where j.id = p_job_id) then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  return false;
end $$;

create function aiproc.cancel_job(p_job_id text)
returns boolean language plpgsql set search_path = '' as $$
begin
  update aiproc.jobs set status = 'cancelled', updated_at = now()
   where id = p_job_id and status in ('planning', 'running', 'merging');
  if not found then
    if not exists (select from aiproc.jobs j where j.id = p_job_id) then
      raise exception 'job % not found', p_job_id using errcode = 'P0002';
    end if;
    return false;
  end if;
  update aiproc.parts set status = 'cancelled', finished_at = now()
   where job_id = p_job_id and status in ('pending', 'running');
  return true;
end $$;

-- Appends to a job's progress history; seq counts per job, assigned under the job's row lock
-- so a reader paging with "after seq" never skips an event that commits late.
create function aiproc.add_job_event(p_job_id text, p_stage text, p_data jsonb)
returns integer language plpgsql set search_path = '' as $$
declare
  v_seq integer;
begin
  update aiproc.jobs set event_seq = event_seq + 1 where id = p_job_id returning event_seq into v_seq;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  insert into aiproc.job_events (job_id, seq, stage, data) values (p_job_id, v_seq, p_stage, coalesce(p_data, 'null'::jsonb));
  return v_seq;
end $$;

create function aiproc.mark_event_processed(p_source text, p_id text)
returns boolean language sql set search_path = '' as $$
  with ins as (
    insert into aiproc.inbox (source, id) values (p_source, p_id) on conflict do nothing returning 1
  )
  select exists (select from ins);
$$;

-- Jobs whose parts are all in and whose synthesis is unclaimed, or whose lease ran out.
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

