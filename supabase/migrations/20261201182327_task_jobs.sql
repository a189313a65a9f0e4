-- OpenWebUI's background tasks (title, tags, follow-ups…) are recorded as task jobs: meta.task
-- names the task. They answer OpenWebUI, not the user, so no rating ever links to one (a rating
-- OpenWebUI sends right after a task would otherwise land on that task's job), and ratings, rule
-- statistics and the training-data export leave them out.

-- As before (by job id, else OpenWebUI's message id, else the newest job of the chat), skipping task jobs.
create or replace function aiproc.add_rating(p_event_source text, p_event_id text, p_job_id text, p_chat_id text,
                                             p_message_id text, p_score integer, p_comment text, p_user text)
returns table (stored boolean, job_id text) language plpgsql set search_path = '' as $$
#variable_conflict use_column
declare
  v_job text;
  v_inserted boolean;
begin
  select r.job_id into v_job from aiproc.ratings r where r.event_source = p_event_source and r.event_id = p_event_id;
  if found then
    return query select false, v_job;
    return;
  end if;
  if p_job_id is not null then
    select j.id into v_job from aiproc.jobs j where j.id = p_job_id and j.meta ->> 'task' is null;
  end if;
  if v_job is null and p_message_id is not null then
    select j.id into v_job from aiproc.jobs j where j.meta ->> 'messageId' = p_message_id and j.meta ->> 'task' is null
     order by j.created_at desc limit 1;
  end if;
  if v_job is null and p_chat_id is not null then
    select j.id into v_job from aiproc.jobs j where j.meta ->> 'chatId' = p_chat_id and j.meta ->> 'task' is null
     order by j.created_at desc limit 1;
  end if;
  if v_job is null then
    -- A rating that finds no job is refused (the feedback function answers 400), not kept unlinked.
    return query select false, null::text;
    return;
  end if;
  insert into aiproc.ratings (event_source, event_id, job_id, chat_id, message_id, score, comment, user_name)
  values (p_event_source, p_event_id, v_job, p_chat_id, p_message_id, p_score, p_comment, p_user)
  on conflict (event_source, event_id) do nothing;
  v_inserted := found;
  if not v_inserted then
    -- The same event, delivered twice at once: the other delivery stored it.
    select r.job_id into v_job from aiproc.ratings r where r.event_source = p_event_source and r.event_id = p_event_id;
  end if;
  return query select v_inserted, v_job;
end $$;

-- The views keep their columns; only task jobs drop out.
create or replace view aiproc.job_scores with (security_invoker = true) as
select g.job_id, avg(g.score)::float8 as score, count(*)::integer as ratings
from aiproc.ratings g
join aiproc.jobs j on j.id = g.job_id and j.meta ->> 'task' is null
group by g.job_id;

create or replace view aiproc.training_examples with (security_invoker = true) as
select j.id as job_id,
       j.model,
       j.messages || jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', j.answer)) as messages,
       j.answer,
       s.score,
       s.ratings,
       j.completed_at
from aiproc.jobs j
join aiproc.job_scores s on s.job_id = j.id
where j.status = 'completed' and j.answer is not null and j.meta ->> 'task' is null;

create or replace view aiproc.rule_stats with (security_invoker = true) as
select r.*,
       (select count(*) from aiproc.rule_applications a join aiproc.jobs j on j.id = a.job_id and j.meta ->> 'task' is null
         where a.rule_version_id = r.id)::integer as jobs,
       (select count(*) from aiproc.rule_applications a join aiproc.jobs j on j.id = a.job_id and j.meta ->> 'task' is null
         join aiproc.ratings g on g.job_id = a.job_id
         where a.rule_version_id = r.id)::integer as rating_count,
       (select avg(g.score) from aiproc.rule_applications a join aiproc.jobs j on j.id = a.job_id and j.meta ->> 'task' is null
         join aiproc.ratings g on g.job_id = a.job_id
         where a.rule_version_id = r.id)::float8 as average_score
from aiproc.rules r;
