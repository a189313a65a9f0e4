import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../functions/lib/errors.ts';
import type { JobView, NewJob, NewRating, NewRule, RuleStats, RuleView, Store } from '../../functions/lib/store/types.ts';

/**
 * An in-memory stand-in for the parts of the Store the feedback function uses, following the
 * interface's documented behaviour. Used until the SQL store exists; the same tests then run
 * against the real one.
 */
export class FakeStore implements Store {
  readonly jobs = new Map<string, JobView>();
  readonly ratings: Array<NewRating & { jobId: string }> = [];
  readonly rules: RuleView[] = [];
  readonly reports: Array<{ eventSource: string; eventId: string; model: string; figures: Record<string, number> }> = [];
  readonly applied = new Map<string, string[]>();
  readonly #inbox = new Set<string>();

  async init() {}
  async close() {}

  async createJob(job: NewJob) {
    const now = new Date().toISOString();
    this.jobs.set(job.id, {
      id: job.id, status: 'planning', model: job.model, owner: job.owner, messages: job.messages, meta: job.meta,
      fastPath: false, plan: null, parts: [], answer: null, error: null, usage: { promptTokens: 0, completionTokens: 0 },
      createdAt: now, updatedAt: now, completedAt: null, ruleIds: [], synthesisAttempts: 0,
    });
  }
  async setPlan(jobId: string) {
    const j = this.jobs.get(jobId);
    if (j) this.jobs.set(jobId, { ...j, status: 'running' });
  }
  async completeJob(jobId: string, answer: string) {
    const j = this.jobs.get(jobId);
    if (!j) throw new NotFoundError(`no job ${jobId}`);
    this.jobs.set(jobId, { ...j, status: 'completed', answer, completedAt: new Date().toISOString() });
  }
  async getJob(jobId: string) {
    const j = this.jobs.get(jobId);
    return j ? { ...j, ruleIds: this.applied.get(jobId) ?? [] } : null;
  }
  async listJobs(limit: number) {
    return [...this.jobs.values()].reverse().slice(0, limit);
  }

  async markEventProcessed(source: string, id: string) {
    const key = `${source}\u0000${id}`;
    if (this.#inbox.has(key)) return false;
    this.#inbox.add(key);
    return true;
  }

  async addRating(r: NewRating) {
    const job = r.jobId !== undefined
      ? this.jobs.get(r.jobId)
      : [...this.jobs.values()].reverse().find((j) => (r.messageId !== undefined ? j.meta.messageId === r.messageId : j.meta.chatId === r.chatId));
    const dup = this.ratings.find((x) => x.eventSource === r.eventSource && x.eventId === r.eventId);
    if (dup) return { stored: false, jobId: dup.jobId };
    if (!job) throw new NotFoundError('no job matches the rating');
    this.ratings.push({ ...r, jobId: job.id });
    return { stored: true, jobId: job.id };
  }

  proposeRule(r: NewRule & { event: { source: string; id: string } }): Promise<RuleView | null>;
  proposeRule(r: NewRule): Promise<RuleView>;
  async proposeRule(r: NewRule): Promise<RuleView | null> {
    if (r.event && !(await this.markEventProcessed(r.event.source, r.event.id))) return null;
    let ruleId: string = randomUUID();
    let version = 1;
    if (r.replaces !== undefined) {
      const older = this.rules.filter((x) => x.ruleId === r.replaces);
      if (older.length === 0) throw new NotFoundError(`no rule ${r.replaces}`);
      ruleId = r.replaces;
      version = Math.max(...older.map((x) => x.version)) + 1;
      if (r.active) older.forEach((x) => (x.active = false));
    }
    const rule: RuleView = {
      id: randomUUID(), ruleId, version, scope: r.scope, model: r.model, text: r.text, reason: r.reason ?? null,
      origin: r.origin, active: r.active, createdAt: new Date().toISOString(),
    };
    this.rules.push(rule);
    return { ...rule };
  }
  async setRuleActive(id: string, active: boolean) {
    const rule = this.rules.find((x) => x.id === id);
    if (!rule) throw new NotFoundError(`no rule version ${id}`);
    if (active) this.rules.filter((x) => x.ruleId === rule.ruleId).forEach((x) => (x.active = false));
    rule.active = active;
    return { ...rule };
  }
  async listRules(filter: { scope?: RuleView['scope']; active?: boolean } = {}) {
    return this.rules.filter((x) => (filter.scope === undefined || x.scope === filter.scope) && (filter.active === undefined || x.active === filter.active)).map((x) => ({ ...x }));
  }
  async activeRules(scope: RuleView['scope'], model: string) {
    return this.rules.filter((x) => x.active && x.scope === scope && (x.model === model || x.model === '*')).map((x) => ({ ...x }));
  }
  async recordRulesApplied(jobId: string, ruleIds: string[]) {
    this.applied.set(jobId, [...new Set([...(this.applied.get(jobId) ?? []), ...ruleIds])]);
  }
  async ruleStats(): Promise<RuleStats[]> {
    return this.rules.map((rule) => {
      const jobs = [...this.applied.entries()].filter(([, ids]) => ids.includes(rule.id)).map(([id]) => id);
      const scores = this.ratings.filter((r) => jobs.includes(r.jobId)).map((r) => r.score);
      return { rule: { ...rule }, jobs: jobs.length, ratings: scores.length, averageScore: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null };
    });
  }
  async addPerformanceReport(r: { eventSource: string; eventId: string; model: string; figures: Record<string, number> }) {
    if (this.reports.some((x) => x.eventSource === r.eventSource && x.eventId === r.eventId)) return false;
    this.reports.push(r);
    return true;
  }
  async ratedJobs(minScore: number) {
    const out: Array<{ job: JobView; score: number }> = [];
    for (const j of this.jobs.values()) {
      const scores = this.ratings.filter((r) => r.jobId === j.id).map((r) => r.score);
      if (!scores.length || j.status !== 'completed') continue;
      const score = scores.reduce((a, b) => a + b, 0) / scores.length;
      if (score >= minScore) out.push({ job: j, score });
    }
    return out;
  }

  startPart(): Promise<{ attempt: number; cancelled: boolean }> { throw new Error('not used by the feedback function'); }
  recordPart(): Promise<{ recorded: boolean; complete: boolean }> { throw new Error('not used by the feedback function'); }
  claimSynthesis(): Promise<'claimed' | 'done' | 'busy'> { throw new Error('not used by the feedback function'); }
  failJob(): Promise<void> { throw new Error('not used by the feedback function'); }
  cancelJob(): Promise<boolean> { throw new Error('not used by the feedback function'); }
  jobsAwaitingSynthesis(): Promise<string[]> { throw new Error('not used by the feedback function'); }
  renewSynthesis(): Promise<boolean> { throw new Error('not used by the feedback function'); }
  releaseSynthesis(): Promise<void> { throw new Error('not used by the feedback function'); }
  staleJobs(): Promise<string[]> { throw new Error('not used by the feedback function'); }
  addJobEvent(): Promise<void> { throw new Error('not used by the feedback function'); }
  listJobEvents(): Promise<never[]> { throw new Error('not used by the feedback function'); }
}
