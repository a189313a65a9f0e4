-- A rule proposal and its inbox entry in one transaction: a delivery that fails between the two
-- can no longer be marked seen without its rule being stored (a retry would have skipped it).
-- Returns no row when the event was seen before.
create function aiproc.propose_rule_once(p_event_source text, p_event_id text, p_scope text, p_model text, p_text text,
                                         p_reason text, p_origin text, p_active boolean, p_replaces text default null)
returns setof aiproc.rules language plpgsql set search_path = '' as $$
begin
  if not aiproc.mark_event_processed(p_event_source, p_event_id) then
    return;
  end if;
  return query select * from aiproc.propose_rule(p_scope, p_model, p_text, p_reason, p_origin, p_active, p_replaces);
end $$;

revoke all on function aiproc.propose_rule_once(text, text, text, text, text, text, text, boolean, text) from public;
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('revoke all on function aiproc.propose_rule_once(text, text, text, text, text, text, text, boolean, text) from %I', r);
    end if;
  end loop;
  if exists (select from pg_roles where rolname = 'service_role') then
    grant execute on function aiproc.propose_rule_once(text, text, text, text, text, text, text, boolean, text) to service_role;
  end if;
end $$;
