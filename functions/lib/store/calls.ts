import type { JobScope } from '../auth/principal.ts';
import type { PlanPart, Usage } from '../events/schemas.ts';
import type { NewJob, NewRating, NewRule, PartResult, Store } from './types.ts';

// The arguments of each SQL function in supabase/migrations, built once for both stores:
// SqlStore passes them as named arguments (p_x => $1), SupabaseStore as the .rpc() body.
// Every argument is present (null, never undefined): PostgREST picks a function by its names.

export type RpcArgs = Record<string, unknown>;

/** Arguments that are jsonb: SqlStore sends them as JSON text, PostgREST takes them as they are. */
export const JSONB_ARGS = new Set(['p_messages', 'p_meta', 'p_plan', 'p_data', 'p_figures', 'p_task_defaults', 'p_tool_calls']);

export type PerformanceReport = Parameters<Store['addPerformanceReport']>[0];

/**
 * Makes values storable: Postgres text and jsonb cannot hold U+0000 (a model may still write
 * it), so it becomes U+FFFD rather than failing the write for good; undefined becomes null.
 * @example clean({ p_output: 'a\u0000b' }) // { p_output: 'a\uFFFDb' }
 */
export function clean(args: RpcArgs): RpcArgs {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, cleanValue(v)]));
}

function cleanValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'string') return v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v;
  if (Array.isArray(v)) return v.map(cleanValue);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [cleanValue(k) as string, cleanValue(x)]));
  }
  return v;
}

export const rpcArgs = {
  createJob: (j: NewJob): RpcArgs => ({
    p_id: j.id, p_model: j.model, p_messages: j.messages, p_owner: j.owner, p_stream: j.stream, p_meta: j.meta,
    p_principal: j.principal?.id ?? null, p_principal_role: j.principal?.role ?? null,
    p_limit_principal: j.limit?.scope.principal ?? null, p_limit_user: j.limit?.scope.user ?? null, p_max_active: j.limit?.maxActive ?? null,
  }),
  setPlan: (jobId: string, plan: PlanPart[], fastPath: boolean, u?: Usage): RpcArgs => ({
    p_job_id: jobId, p_plan: plan, p_fast_path: fastPath,
    p_prompt_tokens: u?.promptTokens ?? 0, p_completion_tokens: u?.completionTokens ?? 0,
  }),
  setSynthesis: (jobId: string, synthesis: string, taskDefaults: Record<string, unknown>): RpcArgs => ({
    p_job_id: jobId, p_synthesis: synthesis, p_task_defaults: taskDefaults,
  }),
  setOpening: (jobId: string, text: string, u: Usage): RpcArgs => ({
    p_job_id: jobId, p_opening: text, p_prompt_tokens: u.promptTokens, p_completion_tokens: u.completionTokens,
  }),
  startPart: (jobId: string, index: number): RpcArgs => ({ p_job_id: jobId, p_index: index }),
  recordPart: (r: PartResult): RpcArgs => ({
    p_job_id: r.jobId, p_index: r.index, p_status: r.status, p_output: r.output ?? null, p_error: r.error ?? null,
    p_prompt_tokens: r.usage.promptTokens, p_completion_tokens: r.usage.completionTokens,
    p_started_at: r.startedAt ?? null, p_finished_at: r.finishedAt, p_attempts: r.attempts,
    p_tool_calls: r.toolCalls?.length ? r.toolCalls : null,
  }),
  claimSynthesis: (jobId: string, claimant: string, leaseSeconds: number): RpcArgs => ({
    p_job_id: jobId, p_claimant: claimant, p_lease_seconds: leaseSeconds,
  }),
  completeJob: (jobId: string, answer: string, u: Usage): RpcArgs => ({
    p_job_id: jobId, p_answer: answer, p_prompt_tokens: u.promptTokens, p_completion_tokens: u.completionTokens,
  }),
  failJob: (jobId: string, error: string): RpcArgs => ({ p_job_id: jobId, p_error: error }),
  cancelJob: (jobId: string): RpcArgs => ({ p_job_id: jobId }),
  jobsAwaitingSynthesis: (leaseSeconds: number): RpcArgs => ({ p_lease_seconds: leaseSeconds }),
  renewSynthesis: (jobId: string, claimant: string, leaseSeconds: number): RpcArgs => ({ p_job_id: jobId, p_claimant: claimant, p_lease_seconds: leaseSeconds }),
  releaseSynthesis: (jobId: string, claimant: string): RpcArgs => ({ p_job_id: jobId, p_claimant: claimant }),
  staleJobs: (seconds: number): RpcArgs => ({ p_seconds: seconds }),
  principalUsage: (scope: JobScope, sinceSeconds: number): RpcArgs => ({ p_principal: scope.principal ?? null, p_user: scope.user ?? null, p_since_seconds: sinceSeconds }),
  addJobEvent: (jobId: string, stage: string, data: unknown): RpcArgs => ({
    p_job_id: jobId, p_stage: stage, p_data: data === undefined ? null : data,
  }),
  markEventProcessed: (source: string, id: string): RpcArgs => ({ p_source: source, p_id: id }),
  addRating: (r: NewRating): RpcArgs => ({
    p_event_source: r.eventSource, p_event_id: r.eventId, p_job_id: r.jobId ?? null, p_chat_id: r.chatId ?? null,
    p_message_id: r.messageId ?? null, p_score: r.score, p_comment: r.comment ?? null, p_user: r.user ?? null,
  }),
  proposeRule: (r: NewRule): RpcArgs => ({
    p_scope: r.scope, p_model: r.model, p_text: r.text, p_reason: r.reason ?? null, p_origin: r.origin,
    p_active: r.active, p_replaces: r.replaces ?? null,
  }),
  proposeRuleOnce: (r: NewRule & { event: { source: string; id: string } }): RpcArgs => ({
    p_event_source: r.event.source, p_event_id: r.event.id,
    p_scope: r.scope, p_model: r.model, p_text: r.text, p_reason: r.reason ?? null, p_origin: r.origin,
    p_active: r.active, p_replaces: r.replaces ?? null,
  }),
  setRuleActive: (id: string, active: boolean): RpcArgs => ({ p_id: id, p_active: active }),
  recordRulesApplied: (jobId: string, ruleIds: string[]): RpcArgs => ({ p_job_id: jobId, p_rule_ids: ruleIds }),
  addPerformanceReport: (r: PerformanceReport): RpcArgs => ({
    p_event_source: r.eventSource, p_event_id: r.eventId, p_model: r.model, p_figures: r.figures,
    p_note: r.note ?? null, p_window_start: r.windowStart ?? null, p_window_end: r.windowEnd ?? null,
  }),
};
