import type { JobScope } from '../auth/principal.ts';
import type { ChatMessage, PlanPart, Sampling, Synthesis, ToolCall, Usage } from '../events/schemas.ts';

export type JobStatus = 'planning' | 'running' | 'merging' | 'completed' | 'failed' | 'cancelled';
export type PartStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** Who asked, as OpenWebUI forwards it (X-OpenWebUI-User-Id, -Chat-Id, -Message-Id headers). */
export interface JobMeta {
  user?: string;
  chatId?: string;
  messageId?: string;
  /** Set on OpenWebUI's background tasks (`title_generation`…): ratings, rule statistics and the export skip such jobs. */
  task?: string;
  /** The client's sampling settings, for the merger (the parts get them in task.requested). */
  sampling?: Sampling;
  /** The client's token budget, for the merger too. */
  maxTokens?: number;
}

export interface NewJob {
  id: string;
  /** The model the client asked for: `aiproc` (split and merge) or a model slug (direct). */
  model: string;
  messages: ChatMessage[];
  /** The splitter instance that relays this job's replies. */
  owner: string;
  stream: boolean;
  meta: JobMeta;
  /** Who asked (functions/lib/auth/principal.ts); `unknown` when not given. */
  principal?: { id: string; role: string };
  /**
   * AIPROC_MAX_JOBS_PER_KEY for this job's scope: counted in the same step as the insert, so two
   * requests at once cannot both take the last place; at the limit, createJob throws
   * TooManyRequestsError.
   */
  limit?: { scope: JobScope; maxActive: number };
}

export interface PartView {
  index: number;
  title: string;
  prompt: string;
  model: string;
  status: PartStatus;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  usage: Usage;
  output: string | null;
  error: string | null;
  /** The tool calls its model made (the client runs them), in OpenAI's order; null when none. */
  toolCalls: ToolCall[] | null;
}

export interface JobView {
  id: string;
  status: JobStatus;
  model: string;
  owner: string;
  /** Who asked: `<role>:<name>` of the API key, `local` with no keys, `unknown` before principals were recorded. */
  principal: string;
  principalRole: string;
  messages: ChatMessage[];
  meta: JobMeta;
  fastPath: boolean;
  plan: PlanPart[] | null;
  parts: PartView[];
  answer: string | null;
  error: string | null;
  /** Sum over parts plus planning and synthesis. */
  usage: Usage;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /** Ids of the rule versions that shaped this job's prompts. */
  ruleIds: string[];
  /** How many times a merger claimed this job's synthesis. */
  synthesisAttempts: number;
  /** How the answer is put together (split jobs): part answers stitched verbatim, or rewritten in one. */
  synthesis: Synthesis | null;
  /** What every task of a split job carries besides its part (total, synthesis, token and sampling options). */
  taskDefaults: Record<string, unknown> | null;
  /** Stitched synthesis: the opening the merger model wrote (empty when there is none), once written. */
  opening: { text: string; usage: Usage } | null;
}

export interface PartResult {
  jobId: string;
  index: number;
  status: 'completed' | 'failed';
  output?: string;
  error?: string;
  /** The tool calls the model made instead of (or beside) its text. */
  toolCalls?: ToolCall[];
  usage: Usage;
  startedAt?: string;
  finishedAt: string;
  attempts: number;
}

export interface JobEventRecord {
  seq: number;
  stage: string;
  data: unknown;
  at: string;
}

export type RuleScope = 'planner' | 'inference' | 'merger';

export interface RuleView {
  /** Id of this version. */
  id: string;
  /** Id shared by all versions of one rule. */
  ruleId: string;
  version: number;
  scope: RuleScope;
  /** A model slug or "*". */
  model: string;
  text: string;
  reason: string | null;
  origin: 'n8n' | 'person' | 'api';
  active: boolean;
  createdAt: string;
}

export interface NewRule {
  scope: RuleScope;
  model: string;
  text: string;
  reason?: string;
  origin: 'n8n' | 'person' | 'api';
  active: boolean;
  /** A ruleId: this becomes its next version (and, when active, retires the older versions). */
  replaces?: string;
  /** The proposing event's source and id: stored once per event, atomically with the rule. */
  event?: { source: string; id: string };
}

export interface NewRating {
  /** The CloudEvent's source and id: a repeated event is stored once. */
  eventSource: string;
  eventId: string;
  jobId?: string;
  chatId?: string;
  messageId?: string;
  /** Normalised to 1..10; thumbs up = 10, down = 1. */
  score: number;
  comment?: string;
  user?: string;
}

/** What one principal (or a gateway's end user) uses: for the limits. */
export interface PrincipalUsage {
  /** Its jobs not yet finished. */
  active: number;
  /** Tokens of its jobs made in the window (prompt and completion, every step). */
  tokens: number;
  /** When the oldest job in the window was made (it leaves the window first), or null. */
  oldestAt: string | null;
}

export interface RuleStats {
  rule: RuleView;
  jobs: number;
  ratings: number;
  averageScore: number | null;
}

/**
 * Every read and write the functions make. Each atomic step is a SQL function in
 * supabase/migrations, so SqlStore (pg / PGlite) and SupabaseStore (.rpc) run the same logic.
 * Connection failures surface as RetryLaterError; a missing job as NotFoundError.
 */
export interface Store {
  /** SqlStore: applies migrations. SupabaseStore: checks the schema is there. */
  init(): Promise<void>;
  close(): Promise<void>;

  createJob(job: NewJob): Promise<void>;
  /** Stores the plan and one pending part per entry; the job goes to `running`. */
  setPlan(jobId: string, plan: PlanPart[], fastPath: boolean, planUsage?: Usage): Promise<void>;
  /** Records how a split job's answer is put together, and what each of its tasks carries (for parts started later). */
  setSynthesis(jobId: string, synthesis: Synthesis, taskDefaults: Record<string, unknown>): Promise<void>;
  /** Records the stitched answer's opening unless one is there; returns the one the job now has (first writer wins). */
  setOpening(jobId: string, text: string, usage: Usage): Promise<string>;
  /** Marks a part running and counts the attempt; `cancelled` when there is nothing to do: the job was cancelled or ended, or the part was already answered (skip the work). */
  startPart(jobId: string, index: number): Promise<{ attempt: number; cancelled: boolean }>;
  /**
   * Records a part's result once (a second result for the same part changes nothing);
   * says whether it was new and whether every part of the job now has a result.
   */
  recordPart(result: PartResult): Promise<{ recorded: boolean; complete: boolean }>;
  /**
   * Claims the synthesis of a job: `claimed` once per job (or again after `leaseSeconds` without
   * completion, for crash recovery), `done` when the job has finished, `busy` while another holds it.
   */
  claimSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<'claimed' | 'done' | 'busy'>;
  /** Extends the lease while a synthesis is still running; false when the claimant no longer holds it. */
  renewSynthesis(jobId: string, claimant: string, leaseSeconds: number): Promise<boolean>;
  /** Gives the lease back after a failed attempt, so a retry can claim at once. */
  releaseSynthesis(jobId: string, claimant: string): Promise<void>;
  /** Unfinished jobs with no change for `seconds`: their work was lost; the merger fails them visibly. */
  staleJobs(seconds: number): Promise<string[]>;
  /** Finishes a job with its answer; the job's usage adds `usage` (the synthesis). Idempotent. */
  completeJob(jobId: string, answer: string, usage: Usage): Promise<void>;
  failJob(jobId: string, error: string): Promise<void>;
  /** Cancels a job that has not finished; its pending and running parts become cancelled. */
  cancelJob(jobId: string): Promise<boolean>;
  getJob(jobId: string): Promise<JobView | null>;
  /** Newest first; only a principal's jobs (and its asserted end user's) when the scope says so. */
  listJobs(limit: number, scope?: JobScope): Promise<JobView[]>;
  /** Unfinished jobs and tokens of the last `sinceSeconds` for a scope (a principal, maybe one end user). */
  principalUsage(scope: JobScope, sinceSeconds: number): Promise<PrincipalUsage>;
  /** Jobs whose parts are all in and whose synthesis is unclaimed or whose lease ran out (recovery after a crash). */
  jobsAwaitingSynthesis(leaseSeconds: number): Promise<string[]>;

  /** Progress history of a job, for GET /v1/jobs/:id/events. */
  addJobEvent(jobId: string, stage: string, data: unknown): Promise<void>;
  listJobEvents(jobId: string, afterSeq?: number): Promise<JobEventRecord[]>;

  /** Inbox: true the first time (source, id) is seen, false after. */
  markEventProcessed(source: string, id: string): Promise<boolean>;

  addRating(r: NewRating): Promise<{ stored: boolean; jobId: string | null }>;
  /** Stores a rule (version); null when `r.event` was seen before (nothing stored again). */
  proposeRule(r: NewRule & { event: { source: string; id: string } }): Promise<RuleView | null>;
  proposeRule(r: NewRule): Promise<RuleView>;
  setRuleActive(id: string, active: boolean): Promise<RuleView>;
  listRules(filter?: { scope?: RuleScope; active?: boolean }): Promise<RuleView[]>;
  /** Active rules of a scope that apply to a model (its own and "*"). */
  activeRules(scope: RuleScope, model: string): Promise<RuleView[]>;
  /** Remembers which rule versions shaped a job, so ratings can be credited to rules. */
  recordRulesApplied(jobId: string, ruleIds: string[]): Promise<void>;
  ruleStats(): Promise<RuleStats[]>;
  addPerformanceReport(r: { eventSource: string; eventId: string; model: string; figures: Record<string, number>; note?: string; windowStart?: string; windowEnd?: string }): Promise<boolean>;
  /** Well-rated jobs for the training-data export. */
  ratedJobs(minScore: number): Promise<Array<{ job: JobView; score: number }>>;
}
