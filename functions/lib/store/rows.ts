import type { ChatMessage, PlanPart, Synthesis, ToolCall, Usage } from '../events/schemas.ts';
import type { Row } from './driver.ts';
import type {
  JobEventRecord, JobMeta, JobStatus, JobView, PartStatus, PartView, PrincipalUsage, RuleScope, RuleStats, RuleView,
} from './types.ts';

// Rows come from node-postgres and PGlite (Date, numbers) or PostgREST (JSON: ISO strings);
// both shapes map to the same views here, so every store returns identical objects.

const iso = (v: unknown): string => new Date(v as string | Date).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

const usage = (prompt: unknown, completion: unknown): Usage => ({
  promptTokens: num(prompt),
  completionTokens: num(completion),
});

export function toPart(r: Row): PartView {
  return {
    index: num(r.idx),
    title: String(r.title),
    prompt: String(r.prompt),
    model: String(r.model),
    status: r.status as PartStatus,
    attempts: num(r.attempts),
    startedAt: isoOrNull(r.started_at),
    finishedAt: isoOrNull(r.finished_at),
    durationMs: r.duration_ms === null || r.duration_ms === undefined ? null : num(r.duration_ms),
    usage: usage(r.prompt_tokens, r.completion_tokens),
    output: str(r.output),
    error: str(r.error),
    toolCalls: Array.isArray(r.tool_calls) && r.tool_calls.length ? (r.tool_calls as ToolCall[]) : null,
  };
}

/** A job row with its part rows and the ids of the rule versions applied to it. */
export function toJob(r: Row, partRows: Row[], ruleIds: string[]): JobView {
  const parts = partRows.map(toPart).sort((a, b) => a.index - b.index);
  const total = parts.reduce(
    (sum, p) => ({
      promptTokens: sum.promptTokens + p.usage.promptTokens,
      completionTokens: sum.completionTokens + p.usage.completionTokens,
    }),
    {
      promptTokens: num(r.plan_prompt_tokens) + num(r.synthesis_prompt_tokens) + num(r.opening_prompt_tokens),
      completionTokens: num(r.plan_completion_tokens) + num(r.synthesis_completion_tokens) + num(r.opening_completion_tokens),
    },
  );
  return {
    id: String(r.id),
    status: r.status as JobStatus,
    model: String(r.model),
    owner: String(r.owner),
    principal: String(r.principal ?? 'unknown'),
    principalRole: String(r.principal_role ?? 'unknown'),
    messages: (r.messages ?? []) as ChatMessage[],
    meta: (r.meta ?? {}) as JobMeta,
    fastPath: Boolean(r.fast_path),
    plan: (r.plan ?? null) as PlanPart[] | null,
    parts,
    answer: str(r.answer),
    error: str(r.error),
    usage: total,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    completedAt: isoOrNull(r.completed_at),
    ruleIds: [...ruleIds].sort(),
    synthesisAttempts: num(r.synthesis_attempts),
    synthesis: str(r.synthesis) as Synthesis | null,
    taskDefaults: (r.task_defaults ?? null) as Record<string, unknown> | null,
    opening: r.opening === null || r.opening === undefined ? null : { text: String(r.opening), usage: usage(r.opening_prompt_tokens, r.opening_completion_tokens) },
  };
}

/**
 * Joins job rows with the part rows and rule_applications rows fetched for them, keeping the
 * order of `jobRows`.
 */
export function assembleJobs(jobRows: Row[], partRows: Row[], applicationRows: Row[]): JobView[] {
  const parts = groupBy(partRows, (r) => String(r.job_id));
  const rules = groupBy(applicationRows, (r) => String(r.job_id));
  return jobRows.map((j) =>
    toJob(j, parts.get(String(j.id)) ?? [], (rules.get(String(j.id)) ?? []).map((a) => String(a.rule_version_id))),
  );
}

function groupBy(rows: Row[], key: (r: Row) => string): Map<string, Row[]> {
  const m = new Map<string, Row[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

export function toEvent(r: Row): JobEventRecord {
  return { seq: num(r.seq), stage: String(r.stage), data: r.data ?? null, at: iso(r.at) };
}

export function toRule(r: Row): RuleView {
  return {
    id: String(r.id),
    ruleId: String(r.rule_id),
    version: num(r.version),
    scope: r.scope as RuleScope,
    model: String(r.model),
    text: String(r.text),
    reason: str(r.reason),
    origin: r.origin as RuleView['origin'],
    active: Boolean(r.active),
    createdAt: iso(r.created_at),
  };
}

/** A row of the aiproc.rule_stats view. */
export function toRuleStats(r: Row): RuleStats {
  return {
    rule: toRule(r),
    jobs: num(r.jobs),
    ratings: num(r.rating_count),
    averageScore: r.average_score === null || r.average_score === undefined ? null : Number(r.average_score),
  };
}

/** The row of aiproc.principal_usage. */
export function toUsage(r: Row | undefined): PrincipalUsage {
  return { active: num(r?.active), tokens: num(r?.tokens), oldestAt: isoOrNull(r?.oldest_at) };
}
