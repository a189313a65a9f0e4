-- Ratings are stored only when they find their job: nothing is kept for a rating that is refused.

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
    select j.id into v_job from aiproc.jobs j where j.id = p_job_id;
  end if;
  if v_job is null and p_message_id is not null then
    select j.id into v_job from aiproc.jobs j where j.meta ->> 'messageId' = p_message_id
     order by j.created_at desc limit 1;
  end if;
  if v_job is null and p_chat_id is not null then
    select j.id into v_job from aiproc.jobs j where j.meta ->> 'chatId' = p_chat_id
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
