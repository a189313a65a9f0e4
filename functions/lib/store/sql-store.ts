import type { JobScope } from '../auth/principal.ts';
import type { PlanPart, Synthesis, Usage } from '../events/schemas.ts';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { clean, JSONB_ARGS, rpcArgs, type PerformanceReport, type RpcArgs } from './calls.ts';
import type { Row, SqlDriver } from './driver.ts';
import { migrate } from './migrate.ts';
import { assembleJobs, toEvent, toRule, toRuleStats, toUsage } from './rows.ts';
import type {
  JobEventRecord, JobView, NewJob, NewRating, NewRule, PartResult, PrincipalUsage, RuleScope, RuleStats, RuleView, Store,
} from './types.ts';

/**
 * The Store over a direct connection — node-postgres or PGlite — calling the SQL functions of
 * supabase/migrations for every write and reading the tables with plain selects.
 * @example const store = new SqlStore(await pgliteDriver(dir)); await store.init()
 */
export class SqlStore implements Store {
  readonly #db: SqlDriver;
  readonly #log: Logger | undefined;

  constructor(driver: SqlDriver, log?: Logger) {
    this.#db = driver;
    this.#log = log;
  }

  /** What it connects to, without secrets. */
  describe(): string {
    return this.#db.description;
  }

  async init(): Promise<void> {
    const applied = await migrate(this.#db);
    if (applied.length > 0) this.#log?.info({ applied, db: this.#db.description }, 'database migrated');
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  /** Calls aiproc.<fn> with named arguments; jsonb ones travel as JSON text. */
  #call(fn: string, raw: RpcArgs): Promise<Row[]> {
    const args = clean(raw);
    const keys = Object.keys(args);
    const list = keys.map((k, i) => `${k} => $${i + 1}${JSONB_ARGS.has(k) ? '::text::jsonb' : ''}`);
    const params = keys.map((k) => (JSONB_ARGS.has(k) ? JSON.stringify(args[k]) : args[k]));
    return this.#db.query(`select * from aiproc.${fn}(${list.join(', ')})`, params);
  }

  /** A function returning one scalar: its value (the column is named after the function). */
  async #scalar<T>(fn: string, args: RpcArgs): Promise<T> {
    const rows = await this.#call(fn, args);
    return rows[0]?.[fn] as T;
  }

  async createJob(job: NewJob): Promise<void> {
    await this.#call('create_job', rpcArgs.createJob(job));
  }

  async setPlan(jobId: string, plan: PlanPart[], fastPath: boolean, planUsage?: Usage): Promise<void> {
    await this.#call('set_plan', rpcArgs.setPlan(jobId, plan, fastPath, planUsage));
  }

  async setSynthesis(jobId: string, synthesis: Synthesis, taskDefaults: Record<string, unknown>): Promise<void> {
    await this.#call('set_synthesis', rpcArgs.setSynthesis(jobId, synthesis, taskDefaults));
  }

  async setOpening(jobId: string, text: string, usage: Usage): Promise<string> {
    return String((await this.#scalar<string | null>('set_opening', rpcArgs.setOpening(jobId, text, usage))) ?? '');
  }

  async startPart(jobId: string, index: number): Promise<{ attempt: number; cancelled: boolean }> {
    const [r] = await this.#call('start_part', rpcArgs.startPart(jobId, index));
    return { attempt: Number(r?.attempt), cancelled: Boolean(r?.cancelled) };
  }

  async recordPart(result: PartResult): Promise<{ recorded: boolean; complete: boolean }> {
    const [r] = await this.#call('record_part', rpcArgs.recordPart(result));
    return { recorded: Boolean(r?.recorded), complete: Boolean(r?.complete) };
  }

  claimSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<'claimed' | 'done' | 'busy'> {
    return this.#scalar('claim_synthesis', rpcArgs.claimSynthesis(jobId, claimant, leaseSeconds));
  }

  renewSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<boolean> {
    return this.#scalar('renew_synthesis', rpcArgs.renewSynthesis(jobId, claimant, leaseSeconds));
  }

  async releaseSynthesis(jobId: string, claimant: string): Promise<void> {
    await this.#call('release_synthesis', rpcArgs.releaseSynthesis(jobId, claimant));
  }

  async staleJobs(seconds: number): Promise<string[]> {
    const rows = await this.#call('stale_jobs', rpcArgs.staleJobs(seconds));
    return rows.map((r) => String(r.job_id));
  }

  async completeJob(jobId: string, answer: string, usage: Usage): Promise<void> {
    await this.#call('complete_job', rpcArgs.completeJob(jobId, answer, usage));
  }

  async failJob(jobId: string, error: string): Promise<void> {
    await this.#call('fail_job', rpcArgs.failJob(jobId, error));
  }

  cancelJob(jobId: string): Promise<boolean> {
    return this.#scalar('cancel_job', rpcArgs.cancelJob(jobId));
  }

  async getJob(jobId: string): Promise<JobView | null> {
    const jobs = await this.#db.query('select * from aiproc.jobs where id = $1', [jobId]);
    return (await this.#withParts(jobs))[0] ?? null;
  }

  async listJobs(limit: number, scope: JobScope = {}): Promise<JobView[]> {
    const jobs = await this.#db.query(
      `select * from aiproc.jobs
        where ($2::text is null or principal = $2) and ($3::text is null or meta ->> 'user' = $3)
        order by created_at desc, id limit $1`,
      [limit, scope.principal ?? null, scope.user ?? null],
    );
    return this.#withParts(jobs);
  }

  async #withParts(jobs: Row[]): Promise<JobView[]> {
    if (jobs.length === 0) return [];
    const ids = jobs.map((j) => String(j.id));
    const [parts, applications] = await Promise.all([
      this.#db.query('select * from aiproc.parts where job_id = any($1::text[])', [ids]),
      this.#db.query('select job_id, rule_version_id from aiproc.rule_applications where job_id = any($1::text[])', [ids]),
    ]);
    return assembleJobs(jobs, parts, applications);
  }

  async principalUsage(scope: JobScope, sinceSeconds: number): Promise<PrincipalUsage> {
    const [row] = await this.#call('principal_usage', rpcArgs.principalUsage(scope, sinceSeconds));
    return toUsage(row);
  }

  async jobsAwaitingSynthesis(leaseSeconds: number): Promise<string[]> {
    const rows = await this.#call('jobs_awaiting_synthesis', rpcArgs.jobsAwaitingSynthesis(leaseSeconds));
    return rows.map((r) => String(r.job_id));
  }

  async addJobEvent(jobId: string, stage: string, data: unknown): Promise<void> {
    await this.#call('add_job_event', rpcArgs.addJobEvent(jobId, stage, data));
  }

  async listJobEvents(jobId: string, afterSeq = 0): Promise<JobEventRecord[]> {
    const rows = await this.#db.query(
      'select * from aiproc.job_events where job_id = $1 and seq > $2 order by seq',
      [jobId, afterSeq],
    );
    return rows.map(toEvent);
  }

  markEventProcessed(source: string, id: string): Promise<boolean> {
    return this.#scalar('mark_event_processed', rpcArgs.markEventProcessed(source, id));
  }

  async addRating(r: NewRating): Promise<{ stored: boolean; jobId: string | null }> {
    const [row] = await this.#call('add_rating', rpcArgs.addRating(r));
    return { stored: Boolean(row?.stored), jobId: row?.job_id == null ? null : String(row.job_id) };
  }

  proposeRule(r: NewRule & { event: { source: string; id: string } }): Promise<RuleView | null>;
  proposeRule(r: NewRule): Promise<RuleView>;
  async proposeRule(r: NewRule): Promise<RuleView | null> {
    if (r.event) {
      const [once] = await this.#call('propose_rule_once', rpcArgs.proposeRuleOnce({ ...r, event: r.event }));
      return once ? toRule(once) : null;
    }
    const [row] = await this.#call('propose_rule', rpcArgs.proposeRule(r));
    return toRule(row!);
  }

  async setRuleActive(id: string, active: boolean): Promise<RuleView> {
    const [row] = await this.#call('set_rule_active', rpcArgs.setRuleActive(id, active));
    if (!row) throw new NotFoundError(`rule version ${id} not found`);
    return toRule(row);
  }

  async listRules(filter: { scope?: RuleScope; active?: boolean } = {}): Promise<RuleView[]> {
    const rows = await this.#db.query(
      `select * from aiproc.rules
        where ($1::text is null or scope = $1) and ($2::boolean is null or active = $2)
        order by created_at, rule_id, version`,
      [filter.scope ?? null, filter.active ?? null],
    );
    return rows.map(toRule);
  }

  async activeRules(scope: RuleScope, model: string): Promise<RuleView[]> {
    const rows = await this.#db.query(
      `select * from aiproc.rules where active and scope = $1 and model in ($2, '*') order by created_at, rule_id`,
      [scope, model],
    );
    return rows.map(toRule);
  }

  async recordRulesApplied(jobId: string, ruleIds: string[]): Promise<void> {
    await this.#call('record_rules_applied', rpcArgs.recordRulesApplied(jobId, ruleIds));
  }

  async ruleStats(): Promise<RuleStats[]> {
    const rows = await this.#db.query('select * from aiproc.rule_stats order by created_at, rule_id, version');
    return rows.map(toRuleStats);
  }

  addPerformanceReport(r: PerformanceReport): Promise<boolean> {
    return this.#scalar('add_performance_report', rpcArgs.addPerformanceReport(r));
  }

  async ratedJobs(minScore: number): Promise<Array<{ job: JobView; score: number }>> {
    const rated = await this.#db.query(
      'select job_id, score from aiproc.training_examples where score >= $1 order by completed_at desc, job_id',
      [minScore],
    );
    if (rated.length === 0) return [];
    const jobs = await this.#db.query('select * from aiproc.jobs where id = any($1::text[])', [rated.map((r) => r.job_id)]);
    const byId = new Map((await this.#withParts(jobs)).map((j) => [j.id, j]));
    return rated.flatMap((r) => {
      const job = byId.get(String(r.job_id));
      return job ? [{ job, score: Number(r.score) }] : [];
    });
  }
}
