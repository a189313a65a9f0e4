-- Stitched synthesis and dependent parts (issue #11): how a job's answer is put together, what
-- every task of the job carries (so the merger can start a dependent part later with the same
-- settings), and the opening the merger model wrote for it. The opening is written once: the first writer wins (a second merger, or a
-- synthesis that found none yet and recorded an empty one), and everyone reads the winner back,
-- so the text streamed to the client and the stored answer cannot disagree.

alter table aiproc.jobs
  add column if not exists synthesis text check (synthesis in ('stitch', 'rewrite')),
  add column if not exists task_defaults jsonb,
  add column if not exists opening text,
  add column if not exists opening_prompt_tokens integer not null default 0,
  add column if not exists opening_completion_tokens integer not null default 0;

create or replace function aiproc.set_synthesis(p_job_id text, p_synthesis text, p_task_defaults jsonb default null)
returns boolean language plpgsql set search_path = '' as $$
begin
  if p_synthesis is null or p_synthesis not in ('stitch', 'rewrite') then
    raise exception 'synthesis must be stitch or rewrite, not %', p_synthesis using errcode = '22023';
  end if;
  update aiproc.jobs set synthesis = p_synthesis, task_defaults = p_task_defaults, updated_at = now() where id = p_job_id;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  return true;
end $$;

-- Records the opening unless one is there; returns whichever opening the job now has.
create or replace function aiproc.set_opening(p_job_id text, p_opening text,
                                              p_prompt_tokens integer default 0, p_completion_tokens integer default 0)
returns text language plpgsql set search_path = '' as $$
declare
  v_opening text;
begin
  update aiproc.jobs
     set opening = p_opening, updated_at = now(),
         opening_prompt_tokens = coalesce(p_prompt_tokens, 0), opening_completion_tokens = coalesce(p_completion_tokens, 0)
   where id = p_job_id and opening is null;
  select j.opening into v_opening from aiproc.jobs j where j.id = p_job_id;
  if not found then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  return v_opening;
end $$;

revoke all on function aiproc.set_synthesis(text, text, jsonb) from public;
revoke all on function aiproc.set_opening(text, text, integer, integer) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.set_synthesis(text, text, jsonb) to service_role;
    grant execute on function aiproc.set_opening(text, text, integer, integer) to service_role;
  end if;
end $$;
