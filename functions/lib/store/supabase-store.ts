import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { JobScope } from '../auth/principal.ts';
import type { PlanPart, Synthesis, Usage } from '../events/schemas.ts';
import { ConfigError, NotFoundError, RetryLaterError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { clean, rpcArgs, type PerformanceReport, type RpcArgs } from './calls.ts';
import { toStoreError } from './db-errors.ts';
import type { Row } from './driver.ts';
import { assembleJobs, toEvent, toRule, toRuleStats, toUsage } from './rows.ts';
import type {
  JobEventRecord, JobView, NewJob, NewRating, NewRule, PartResult, PrincipalUsage, RuleScope, RuleStats, RuleView, Store,
} from './types.ts';

export interface SupabaseStoreOptions {
  /** SUPABASE_URL, e.g. https://xyz.supabase.co (the REST API is under /rest/v1). */
  readonly url: string;
  /** SUPABASE_SERVICE_ROLE_KEY: the service role bypasses RLS; aiproc grants nothing to anon. */
  readonly serviceRoleKey: string;
  readonly log?: Logger;
}

/** What a failed supabase-js call hands back. */
interface ApiError {
  message: string;
  code?: string;
  details?: string | null;
  hint?: string | null;
}

/** Ids per `in.(…)` filter: keeps request URLs well under PostgREST's and proxies' limits. */
const IN_CHUNK = 100;

/**
 * The Store through Supabase's REST API (PostgREST) with supabase-js: every write is `.rpc()` of
 * a SQL function from supabase/migrations — the same functions SqlStore calls — and reads are
 * plain selects on the aiproc schema, which must be in the project's exposed schemas.
 * supabase-js's own retries are off: the caller's retry policy (RetryLaterError) decides.
 * @example const store = new SupabaseStore({ url: settings.SUPABASE_URL, serviceRoleKey: key }); await store.init()
 */
export class SupabaseStore implements Store {
  readonly #db: SupabaseClient<any, 'aiproc'>;
  readonly #url: string;

  constructor(options: SupabaseStoreOptions) {
    this.#url = options.url;
    this.#db = createClient<any, 'aiproc'>(options.url, options.serviceRoleKey, {
      db: { schema: 'aiproc' },
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  describe(): string {
    return `Supabase at ${this.#url} (service role)`;
  }

  /** Checks that the API answers, the key is accepted and the aiproc schema is exposed and migrated. */
  async init(): Promise<void> {
    await this.#select(this.#db.from('jobs').select('id').limit(1).retry(false));
  }

  /** Nothing to release: requests are plain HTTP (no realtime channels are opened). */
  async close(): Promise<void> {}

  /** Turns a supabase-js failure into the store's error kinds. */
  #fail(error: ApiError, status: number): never {
    const code = error.code ?? '';
    const target = `SUPABASE_URL (${this.#url})`;
    if (status === 0 || [502, 503, 504, 520].includes(status) || /^PGRST00/.test(code) || code.startsWith('08')) {
      throw new RetryLaterError(`Supabase at ${target} is unreachable (${status || 'no answer'}): ${error.message}`);
    }
    if (status === 401 || status === 403 || code === 'PGRST301' || code === '42501') {
      throw new ConfigError(`SUPABASE_SERVICE_ROLE_KEY was refused by ${target} (${status}): ${error.message}`);
    }
    if (code === 'PGRST106') {
      throw new ConfigError(`the aiproc schema is not exposed by ${target}: add it to the API's exposed schemas (${error.message})`);
    }
    if (['PGRST202', 'PGRST205', '42P01', '42883'].includes(code)) {
      throw new ConfigError(`the aiproc migrations are not applied at ${target} (supabase db push): ${error.message}`);
    }
    throw toStoreError(Object.assign(new Error(error.message), { code }), target);
  }

  async #select(query: PromiseLike<{ data: unknown; error: ApiError | null; status: number }>): Promise<Row[]> {
    const { data, error, status } = await query;
    if (error) this.#fail(error, status);
    return (data ?? []) as Row[];
  }

  async #rpc(fn: string, args: RpcArgs): Promise<unknown> {
    const { data, error, status } = await this.#db.rpc(fn, clean(args)).retry(false);
    if (error) this.#fail(error, status);
    return data;
  }

  async #rows(fn: string, args: RpcArgs): Promise<Row[]> {
    return ((await this.#rpc(fn, args)) ?? []) as Row[];
  }

  /** `select * from table where column in ids`, in chunks. */
  async #whereIn(table: string, columns: string, column: string, ids: string[]): Promise<Row[]> {
    const out: Row[] = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      out.push(...(await this.#select(this.#db.from(table).select(columns).in(column, ids.slice(i, i + IN_CHUNK)).retry(false))));
    }
    return out;
  }

  async #withParts(jobs: Row[]): Promise<JobView[]> {
    if (jobs.length === 0) return [];
    const ids = jobs.map((j) => String(j.id));
    const [parts, applications] = await Promise.all([
      this.#whereIn('parts', '*', 'job_id', ids),
      this.#whereIn('rule_applications', 'job_id,rule_version_id', 'job_id', ids),
    ]);
    return assembleJobs(jobs, parts, applications);
  }

  async createJob(job: NewJob): Promise<void> {
    await this.#rpc('create_job', rpcArgs.createJob(job));
  }

  async setPlan(jobId: string, plan: PlanPart[], fastPath: boolean, planUsage?: Usage): Promise<void> {
    await this.#rpc('set_plan', rpcArgs.setPlan(jobId, plan, fastPath, planUsage));
  }

  async setSynthesis(jobId: string, synthesis: Synthesis, taskDefaults: Record<string, unknown>): Promise<void> {
    await this.#rpc('set_synthesis', rpcArgs.setSynthesis(jobId, synthesis, taskDefaults));
  }

  async setOpening(jobId: string, text: string, usage: Usage): Promise<string> {
    return String((await this.#rpc('set_opening', rpcArgs.setOpening(jobId, text, usage))) ?? '');
  }

  async startPart(jobId: string, index: number): Promise<{ attempt: number; cancelled: boolean }> {
    const [r] = await this.#rows('start_part', rpcArgs.startPart(jobId, index));
    return { attempt: Number(r?.attempt), cancelled: Boolean(r?.cancelled) };
  }

  async recordPart(result: PartResult): Promise<{ recorded: boolean; complete: boolean }> {
    const [r] = await this.#rows('record_part', rpcArgs.recordPart(result));
    return { recorded: Boolean(r?.recorded), complete: Boolean(r?.complete) };
  }

  async claimSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<'claimed' | 'done' | 'busy'> {
    return (await this.#rpc('claim_synthesis', rpcArgs.claimSynthesis(jobId, claimant, leaseSeconds))) as 'claimed' | 'done' | 'busy';
  }

  async renewSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<boolean> {
    return Boolean(await this.#rpc('renew_synthesis', rpcArgs.renewSynthesis(jobId, claimant, leaseSeconds)));
  }

  async releaseSynthesis(jobId: string, claimant: string): Promise<void> {
    await this.#rpc('release_synthesis', rpcArgs.releaseSynthesis(jobId, claimant));
  }

  async staleJobs(seconds: number): Promise<string[]> {
    const rows = await this.#rows('stale_jobs', rpcArgs.staleJobs(seconds));
    return rows.map((r) => String(r.job_id));
  }

  async completeJob(jobId: string, answer: string, usage: Usage): Promise<void> {
    await this.#rpc('complete_job', rpcArgs.completeJob(jobId, answer, usage));
  }

  async failJob(jobId: string, error: string): Promise<void> {
    await this.#rpc('fail_job', rpcArgs.failJob(jobId, error));
  }

  async cancelJob(jobId: string): Promise<boolean> {
    return Boolean(await this.#rpc('cancel_job', rpcArgs.cancelJob(jobId)));
  }

  async getJob(jobId: string): Promise<JobView | null> {
    const jobs = await this.#select(this.#db.from('jobs').select('*').eq('id', jobId).retry(false));
    return (await this.#withParts(jobs))[0] ?? null;
  }

  async listJobs(limit: number, scope: JobScope = {}): Promise<JobView[]> {
    let q = this.#db.from('jobs').select('*');
    if (scope.principal !== undefined) q = q.eq('principal', scope.principal);
    if (scope.user !== undefined) q = q.eq('meta->>user', scope.user);
    const jobs = await this.#select(q.order('created_at', { ascending: false }).order('id').limit(limit).retry(false));
    return this.#withParts(jobs);
  }

  async principalUsage(scope: JobScope, sinceSeconds: number): Promise<PrincipalUsage> {
    const [row] = await this.#rows('principal_usage', rpcArgs.principalUsage(scope, sinceSeconds));
    return toUsage(row);
  }

  async jobsAwaitingSynthesis(leaseSeconds: number): Promise<string[]> {
    const rows = await this.#rows('jobs_awaiting_synthesis', rpcArgs.jobsAwaitingSynthesis(leaseSeconds));
    return rows.map((r) => String(r.job_id));
  }

  async addJobEvent(jobId: string, stage: string, data: unknown): Promise<void> {
    await this.#rpc('add_job_event', rpcArgs.addJobEvent(jobId, stage, data));
  }

  async listJobEvents(jobId: string, afterSeq = 0): Promise<JobEventRecord[]> {
    const rows = await this.#select(
      this.#db.from('job_events').select('*').eq('job_id', jobId).gt('seq', afterSeq).order('seq').retry(false),
    );
    return rows.map(toEvent);
  }

  async markEventProcessed(source: string, id: string): Promise<boolean> {
    return Boolean(await this.#rpc('mark_event_processed', rpcArgs.markEventProcessed(source, id)));
  }

  async addRating(r: NewRating): Promise<{ stored: boolean; jobId: string | null }> {
    const [row] = await this.#rows('add_rating', rpcArgs.addRating(r));
    return { stored: Boolean(row?.stored), jobId: row?.job_id == null ? null : String(row.job_id) };
  }

  proposeRule(r: NewRule & { event: { source: string; id: string } }): Promise<RuleView | null>;
  proposeRule(r: NewRule): Promise<RuleView>;
  async proposeRule(r: NewRule): Promise<RuleView | null> {
    if (r.event) {
      const [once] = await this.#rows('propose_rule_once', rpcArgs.proposeRuleOnce({ ...r, event: r.event }));
      return once ? toRule(once) : null;
    }
    const [row] = await this.#rows('propose_rule', rpcArgs.proposeRule(r));
    if (!row) throw new NotFoundError('the rule was not stored');
    return toRule(row);
  }

  async setRuleActive(id: string, active: boolean): Promise<RuleView> {
    const [row] = await this.#rows('set_rule_active', rpcArgs.setRuleActive(id, active));
    if (!row) throw new NotFoundError(`rule version ${id} not found`);
    return toRule(row);
  }

  async listRules(filter: { scope?: RuleScope; active?: boolean } = {}): Promise<RuleView[]> {
    let q = this.#db.from('rules').select('*');
    if (filter.scope !== undefined) q = q.eq('scope', filter.scope);
    if (filter.active !== undefined) q = q.eq('active', filter.active);
    const rows = await this.#select(q.order('created_at').order('rule_id').order('version').retry(false));
    return rows.map(toRule);
  }

  async activeRules(scope: RuleScope, model: string): Promise<RuleView[]> {
    const rows = await this.#select(
      this.#db.from('rules').select('*').eq('active', true).eq('scope', scope).in('model', [model, '*'])
        .order('created_at').order('rule_id').retry(false),
    );
    return rows.map(toRule);
  }

  async recordRulesApplied(jobId: string, ruleIds: string[]): Promise<void> {
    await this.#rpc('record_rules_applied', rpcArgs.recordRulesApplied(jobId, ruleIds));
  }

  async ruleStats(): Promise<RuleStats[]> {
    const rows = await this.#select(
      this.#db.from('rule_stats').select('*').order('created_at').order('rule_id').order('version').retry(false),
    );
    return rows.map(toRuleStats);
  }

  async addPerformanceReport(r: PerformanceReport): Promise<boolean> {
    return Boolean(await this.#rpc('add_performance_report', rpcArgs.addPerformanceReport(r)));
  }

  async ratedJobs(minScore: number): Promise<Array<{ job: JobView; score: number }>> {
    const rated = await this.#select(
      this.#db.from('training_examples').select('job_id,score').gte('score', minScore)
        .order('completed_at', { ascending: false }).order('job_id').retry(false),
    );
    if (rated.length === 0) return [];
    const jobs = await this.#whereIn('jobs', '*', 'id', rated.map((r) => String(r.job_id)));
    const byId = new Map((await this.#withParts(jobs)).map((j) => [j.id, j]));
    return rated.flatMap((r) => {
      const job = byId.get(String(r.job_id));
      return job ? [{ job, score: Number(r.score) }] : [];
    });
  }
}
