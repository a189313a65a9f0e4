-- Feedback writes: ratings, rules (versioned), rule applications, performance reports.

-- Stores a rating once per event (source, id) and links it to a job: by job id, else by
-- OpenWebUI's message id, else the newest job of the chat.
create function aiproc.add_rating(p_event_source text, p_event_id text, p_job_id text, p_chat_id text,
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

-- A new rule (version 1), or the next version of p_replaces. An active version retires the
-- older versions of the same rule. The versions' row locks keep two proposals from taking one number.
create function aiproc.propose_rule(p_scope text, p_model text, p_text text, p_reason text, p_origin text,
                                    p_active boolean, p_replaces text default null)
returns setof aiproc.rules language plpgsql set search_path = '' as $$
declare
  v_rule uuid;
  v_version integer;
  v_row aiproc.rules;
begin
  if p_replaces is null then
    v_rule := gen_random_uuid();
    v_version := 1;
  else
    if p_replaces !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      raise exception 'rule % not found', p_replaces using errcode = 'P0002';
    end if;
    v_rule := p_replaces::uuid;
    perform 1 from aiproc.rules r where r.rule_id = v_rule for update;
    select max(r.version) into v_version from aiproc.rules r where r.rule_id = v_rule;
    if v_version is null then
      raise exception 'rule % not found', p_replaces using errcode = 'P0002';
    end if;
    v_version := v_version + 1;
    if coalesce(p_active, false) then
      update aiproc.rules set active = false where rule_id = v_rule and active;
    end if;
  end if;
  insert into aiproc.rules (rule_id, version, scope, model, text, reason, origin, active)
  values (v_rule, v_version, p_scope, p_model, p_text, p_reason, p_origin, coalesce(p_active, false))
  returning * into v_row;
  return next v_row;
end $$;


-- A rule proposal and its inbox entry in one transaction, so a delivery that fails half-way is
-- never marked seen without its rule. Returns no row when the event was seen before.
create function aiproc.propose_rule_once(p_event_source text, p_event_id text, p_scope text, p_model text, p_text text,
                                         p_reason text, p_origin text, p_active boolean, p_replaces text default null)
returns setof aiproc.rules language plpgsql set search_path = '' as $$
begin
  if not aiproc.mark_event_processed(p_event_source, p_event_id) then
    return;
  end if;
  return query select * from aiproc.propose_rule(p_scope, p_model, p_text, p_reason, p_origin, p_active, p_replaces);
end $$;

-- Turns one version on or off; turning it on retires the rule's other versions.
create function aiproc.set_rule_active(p_id text, p_active boolean)
returns setof aiproc.rules language plpgsql set search_path = '' as $$
declare
  v_row aiproc.rules;
begin
  if p_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'rule version % not found', p_id using errcode = 'P0002';
  end if;
  select * into v_row from aiproc.rules r where r.id = p_id::uuid;
  if not found then
    raise exception 'rule version % not found', p_id using errcode = 'P0002';
  end if;
  perform 1 from aiproc.rules r where r.rule_id = v_row.rule_id for update;
  if coalesce(p_active, false) then
    update aiproc.rules set active = false where rule_id = v_row.rule_id and id <> v_row.id and active;
  end if;
  update aiproc.rules set active = coalesce(p_active, false) where id = v_row.id returning * into v_row;
  return next v_row;
end $$;

-- Remembers which rule versions shaped a job; unknown rule ids are ignored, repeats change nothing.
create function aiproc.record_rules_applied(p_job_id text, p_rule_ids text[])
returns integer language plpgsql set search_path = '' as $$
declare
  v_count integer;
begin
  if not exists (select from aiproc.jobs j where j.id = p_job_id) then
    raise exception 'job % not found', p_job_id using errcode = 'P0002';
  end if;
  insert into aiproc.rule_applications (job_id, rule_version_id)
  select p_job_id, r.id from aiproc.rules r where r.id::text = any (coalesce(p_rule_ids, '{}'))
  on conflict do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end $$;

create function aiproc.add_performance_report(p_event_source text, p_event_id text, p_model text, p_figures jsonb,
                                              p_note text default null, p_window_start timestamptz default null,
                                              p_window_end timestamptz default null)
returns boolean language sql set search_path = '' as $$
  with ins as (
    insert into aiproc.performance_reports (event_source, event_id, model, figures, note, window_start, window_end)
    values (p_event_source, p_event_id, p_model, coalesce(p_figures, '{}'::jsonb), p_note, p_window_start, p_window_end)
    on conflict (event_source, event_id) do nothing
    returning 1
  )
  select exists (select from ins);
$$;
