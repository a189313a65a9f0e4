-- aiproc: jobs, parts, progress history, inbox, ratings, rules, performance reports.
-- Runs on Supabase (supabase db push), plain Postgres 15+ and PGlite (SqlStore's runner).
-- Every atomic write is a function in the next migration; tables are only read directly.

create schema if not exists aiproc;

create table aiproc.jobs (
  id text primary key,
  model text not null,
  owner text not null,
  stream boolean not null default false,
  messages jsonb not null default '[]'::jsonb,
  -- OpenWebUI's user, chatId and messageId: ratings find their job through these.
  meta jsonb not null default '{}'::jsonb,
  status text not null default 'planning'
    check (status in ('planning', 'running', 'merging', 'completed', 'failed', 'cancelled')),
  fast_path boolean not null default false,
  plan jsonb,
  answer text,
  error text,
  plan_prompt_tokens integer not null default 0,
  plan_completion_tokens integer not null default 0,
  synthesis_prompt_tokens integer not null default 0,
  synthesis_completion_tokens integer not null default 0,
  -- The synthesis lease: who holds it, since when, until when (crash recovery re-claims after).
  synthesis_claimant text,
  synthesis_claimed_at timestamptz,
  synthesis_lease_until timestamptz,
  -- How many times a merger claimed the synthesis: recovery gives up after AIPROC_TASK_ATTEMPTS.
  synthesis_attempts integer not null default 0,
  -- Last progress event number: job_events.seq is per job, assigned under the job's row lock.
  event_seq integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
create index jobs_created_at_idx on aiproc.jobs (created_at desc);
create index jobs_chat_id_idx on aiproc.jobs ((meta ->> 'chatId'));
create index jobs_message_id_idx on aiproc.jobs ((meta ->> 'messageId'));
create index jobs_unfinished_idx on aiproc.jobs (status) where status in ('planning', 'running', 'merging');

create table aiproc.parts (
  job_id text not null references aiproc.jobs (id) on delete cascade,
  idx integer not null check (idx >= 0),
  title text not null,
  prompt text not null,
  model text not null,
  status text not null default 'pending'
    check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
  attempts integer not null default 0,
  started_at timestamptz,
  finished_at timestamptz,
  duration_ms integer,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  output text,
  error text,
  primary key (job_id, idx)
);

create table aiproc.job_events (
  job_id text not null references aiproc.jobs (id) on delete cascade,
  seq integer not null,
  stage text not null,
  data jsonb not null default 'null'::jsonb,
  at timestamptz not null default now(),
  primary key (job_id, seq)
);

-- Events already handled, by CloudEvent (source, id): a redelivered event is seen once.
create table aiproc.inbox (
  source text not null,
  id text not null,
  processed_at timestamptz not null default now(),
  primary key (source, id)
);

create table aiproc.ratings (
  id uuid primary key default gen_random_uuid(),
  event_source text not null,
  event_id text not null,
  job_id text references aiproc.jobs (id) on delete set null,
  chat_id text,
  message_id text,
  score integer not null check (score between 1 and 10),
  comment text,
  user_name text,
  created_at timestamptz not null default now(),
  unique (event_source, event_id)
);
create index ratings_job_id_idx on aiproc.ratings (job_id);

-- One row per version; rule_id is shared by all versions of one rule.
create table aiproc.rules (
  id uuid primary key default gen_random_uuid(),
  rule_id uuid not null,
  version integer not null check (version >= 1),
  scope text not null check (scope in ('planner', 'inference', 'merger')),
  model text not null check (model = '*' or model ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'),
  text text not null check (length(text) > 0),
  reason text,
  origin text not null check (origin in ('n8n', 'person', 'api')),
  active boolean not null default false,
  created_at timestamptz not null default now(),
  unique (rule_id, version)
);
-- At most one active version per rule.
create unique index rules_one_active_idx on aiproc.rules (rule_id) where active;
create index rules_active_idx on aiproc.rules (scope, model) where active;

-- Which rule versions shaped which job: ratings of the job are credited to them.
create table aiproc.rule_applications (
  job_id text not null references aiproc.jobs (id) on delete cascade,
  rule_version_id uuid not null references aiproc.rules (id) on delete cascade,
  primary key (job_id, rule_version_id)
);
create index rule_applications_rule_idx on aiproc.rule_applications (rule_version_id);

create table aiproc.performance_reports (
  id uuid primary key default gen_random_uuid(),
  event_source text not null,
  event_id text not null,
  model text not null,
  figures jsonb not null default '{}'::jsonb,
  note text,
  window_start timestamptz,
  window_end timestamptz,
  created_at timestamptz not null default now(),
  unique (event_source, event_id)
);

-- security_invoker: a view reads with the caller's rights, so RLS on the tables still holds.

-- Per job: the average of its ratings.
create view aiproc.job_scores with (security_invoker = true) as
select job_id, avg(score)::float8 as score, count(*)::integer as ratings
from aiproc.ratings
where job_id is not null
group by job_id;

-- The training-data export: each rated, completed job as a conversation ending in its answer.
create view aiproc.training_examples with (security_invoker = true) as
select j.id as job_id,
       j.model,
       j.messages || jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', j.answer)) as messages,
       j.answer,
       s.score,
       s.ratings,
       j.completed_at
from aiproc.jobs j
join aiproc.job_scores s on s.job_id = j.id
where j.status = 'completed' and j.answer is not null;

-- Per rule version: how many jobs it shaped, how many ratings those jobs got, their average.
create view aiproc.rule_stats with (security_invoker = true) as
select r.*,
       (select count(*) from aiproc.rule_applications a where a.rule_version_id = r.id)::integer as jobs,
       (select count(*) from aiproc.rule_applications a join aiproc.ratings g on g.job_id = a.job_id
         where a.rule_version_id = r.id)::integer as rating_count,
       (select avg(g.score) from aiproc.rule_applications a join aiproc.ratings g on g.job_id = a.job_id
         where a.rule_version_id = r.id)::float8 as average_score
from aiproc.rules r;
