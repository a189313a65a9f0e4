import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AnyEvent } from '../events/event.ts';
import { EventTypes } from '../events/schemas.ts';
import type { Usage } from '../events/schemas.ts';

/** Seconds: from a fast scripted part to a long synthesis on a CPU. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const TPS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
/** Ratings are normalised to 1..10 (thumbs up 10, down 1). */
const SCORE_BUCKETS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

export type JobOutcome = 'completed' | 'failed' | 'cancelled';

/** One model call as the model decorator saw it. */
export interface ModelCall {
  model: string;
  outcome: 'ok' | 'error';
  durationS: number;
  /** Seconds until the first piece of text (streamed calls only). */
  ttftS?: number;
  usage?: Usage;
  /** Seconds spent generating (the backend's eval time when it says, else the whole call). */
  generationS?: number;
}

/**
 * The process's Prometheus metrics: one registry (never prom-client's global one), created at
 * start and passed through the context. Names follow Prometheus conventions (`aiproc_…_total`
 * for counters, `_seconds` for durations); docs/observability.md lists them.
 * @example const metrics = new Metrics(); metrics.jobStarted(jobId, 'aiproc'); await metrics.registry.metrics()
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #jobs = new Map<string, { model: string; startedAt: number }>();

  readonly jobsStarted = this.#counter('aiproc_jobs_started_total', 'Jobs accepted by this splitter, by requested model (aiproc = split and merge).', ['model']);
  readonly jobsFinished = this.#counter('aiproc_jobs_finished_total', 'Jobs that ended, by requested model and status (completed, failed, cancelled).', ['model', 'status']);
  readonly jobsInFlight = this.#gauge('aiproc_jobs_in_flight', 'Jobs accepted by this splitter that have not ended yet.', ['model']);
  readonly jobDuration = this.#histogram('aiproc_job_duration_seconds', 'From the request to the job ending, by requested model and status.', ['model', 'status'], DURATION_BUCKETS);
  readonly partsFinished = this.#counter('aiproc_parts_finished_total', 'Part results recorded by the merger, by model and status (completed, failed).', ['model', 'status']);
  readonly partDuration = this.#histogram('aiproc_part_duration_seconds', 'From a part starting on its model to its answer, by model.', ['model'], DURATION_BUCKETS);
  readonly partsInFlight = this.#gauge('aiproc_parts_in_flight', 'Parts this process is working on now, by model.', ['model']);
  readonly partRetries = this.#counter('aiproc_part_retries_total', 'Attempts beyond the first that recorded parts needed, by model.', ['model']);
  readonly deadLetters = this.#counter('aiproc_dead_letters_total', 'Deliveries given up on, by queue (a task given up on becomes task.failed).', ['queue']);
  readonly modelRequests = this.#histogram('aiproc_model_request_duration_seconds', 'Model calls (planner, parts, synthesis), by model and outcome.', ['model', 'outcome'], DURATION_BUCKETS);
  readonly timeToFirstToken = this.#histogram('aiproc_model_time_to_first_token_seconds', 'Time from a streamed model call to its first text, by model.', ['model'], TTFT_BUCKETS);
  readonly tokensPerSecond = this.#histogram('aiproc_model_output_tokens_per_second', 'Output tokens per second of generation, per model call, by model.', ['model'], TPS_BUCKETS);
  readonly tokens = this.#counter('aiproc_model_tokens_total', 'Tokens in and out of model calls, by model and type (input, output).', ['model', 'type']);
  readonly ratings = this.#counter('aiproc_ratings_total', 'Ratings stored, by each model that answered a part of the rated job.', ['model']);
  readonly ratingScore = this.#histogram('aiproc_rating_score', 'Rating scores (1..10), by each model that answered a part of the rated job.', ['model'], SCORE_BUCKETS);

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The text exposition for `GET /metrics`. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  jobStarted(jobId: string, model: string): void {
    if (this.#jobs.size >= 10_000) this.#jobs.delete(this.#jobs.keys().next().value!);
    this.#jobs.set(jobId, { model, startedAt: performance.now() });
    this.jobsStarted.inc({ model });
    this.jobsInFlight.inc({ model });
  }

  /** Once per job (later calls for the same job change nothing). */
  jobFinished(jobId: string, status: JobOutcome): void {
    const j = this.#jobs.get(jobId);
    if (!j) return;
    this.#jobs.delete(jobId);
    this.jobsFinished.inc({ model: j.model, status });
    this.jobsInFlight.dec({ model: j.model });
    this.jobDuration.observe({ model: j.model, status }, (performance.now() - j.startedAt) / 1000);
  }

  /** A reply reaching the splitter that owns the job: its end is the job's end. */
  observeReply(ev: AnyEvent): void {
    if (ev.type === EventTypes.jobCompleted) this.jobFinished(ev.data.jobId, 'completed');
    else if (ev.type === EventTypes.jobFailed) this.jobFinished(ev.data.jobId, 'failed');
  }

  /** A part result the merger recorded for the first time (exactly once per part). */
  partRecorded(ev: AnyEvent): void {
    if (ev.type === EventTypes.taskCompleted) {
      const d = ev.data;
      this.partsFinished.inc({ model: d.model, status: 'completed' });
      this.partDuration.observe({ model: d.model }, Math.max(0, Date.parse(d.finishedAt) - Date.parse(d.startedAt)) / 1000);
      if (d.attempts > 1) this.partRetries.inc({ model: d.model }, d.attempts - 1);
    } else if (ev.type === EventTypes.taskFailed) {
      const d = ev.data;
      this.partsFinished.inc({ model: d.model, status: 'failed' });
      this.deadLetters.inc({ queue: `aiproc.tasks.${d.model}` });
      if (d.attempts > 1) this.partRetries.inc({ model: d.model }, d.attempts - 1);
    }
  }

  /** Counts a part as in flight on `model` while `work` runs. */
  async trackPart<T>(model: string, work: () => Promise<T>): Promise<T> {
    this.partsInFlight.inc({ model });
    try {
      return await work();
    } finally {
      this.partsInFlight.dec({ model });
    }
  }

  modelCall(c: ModelCall): void {
    this.modelRequests.observe({ model: c.model, outcome: c.outcome }, c.durationS);
    if (c.ttftS !== undefined) this.timeToFirstToken.observe({ model: c.model }, c.ttftS);
    if (!c.usage) return;
    this.tokens.inc({ model: c.model, type: 'input' }, c.usage.promptTokens);
    this.tokens.inc({ model: c.model, type: 'output' }, c.usage.completionTokens);
    const genS = c.generationS ?? c.durationS;
    if (c.usage.completionTokens > 0 && genS > 0) this.tokensPerSecond.observe({ model: c.model }, c.usage.completionTokens / genS);
  }

  /** A stored rating, credited to each model that answered a part of the job. */
  rated(models: string[], score: number): void {
    for (const model of new Set(models)) {
      this.ratings.inc({ model });
      this.ratingScore.observe({ model }, score);
    }
  }

  #counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  #histogram<L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
