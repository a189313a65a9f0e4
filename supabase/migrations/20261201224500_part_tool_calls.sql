-- The tool calls a part's model made (OpenAI's tools: the client runs them and asks again) are
-- kept with the part, beside its text: before, they reached the client but not the job record,
-- so GET /v1/jobs/<id> showed an empty answer for a request answered with a tool call.
-- record_part takes them as one more optional parameter; otherwise it is unchanged.

alter table aiproc.parts add column tool_calls jsonb;

drop function aiproc.record_part(text, integer, text, text, text, integer, integer, timestamptz, timestamptz, integer);

create function aiproc.record_part(p_job_id text, p_index integer, p_status text, p_output text, p_error text,
                                              p_prompt_tokens integer, p_completion_tokens integer,
                                              p_started_at timestamptz, p_finished_at timestamptz, p_attempts integer,
                                              p_tool_calls jsonb default null)
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
     set status = p_status, output = p_output, error = p_error, tool_calls = nullif(p_tool_calls, 'null'::jsonb),
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

revoke all on function aiproc.record_part(text, integer, text, text, text, integer, integer, timestamptz, timestamptz, integer, jsonb) from public;
do $$
begin
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.record_part(text, integer, text, text, text, integer, integer, timestamptz, timestamptz, integer, jsonb) to service_role;
  end if;
end $$;
