import { EventTypes, makeEvent, type JobProgress } from './events/index.ts';
import type { ToolCall } from './events/schemas.ts';
import type { FunctionContext } from './context.ts';
import { messageOf } from './errors.ts';

/**
 * Records a progress step in the job's history and sends it to the splitter that owns the job.
 * Progress is advisory: a failure to record it is logged, never fails the work.
 * @example await progress(ctx, job, { stage: 'part.started', message: 'Part 1 started', index: 0 })
 */
export async function progress(ctx: FunctionContext, owner: string, data: JobProgress): Promise<void> {
  try {
    await ctx.store.addJobEvent(data.jobId, data.stage, data);
  } catch (err) {
    ctx.log.warn({ jobId: data.jobId, err: messageOf(err) }, 'could not record progress');
  }
  await ctx.emit(makeEvent(EventTypes.jobProgress, data, { source: ctx.instance, jobid: data.jobId, owner }));
}

/**
 * Sends streamed text to the job's owner in small batches (one event per ~50 ms, in order),
 * so a fast model does not turn into thousands of broker messages.
 * @example const out = new DeltaSender(ctx, jobId, owner, 'merger'); out.push(text); await out.flush()
 */
export class DeltaSender {
  readonly #send: (content: string, extra?: { done?: boolean; toolCalls?: ToolCall[] }) => Promise<void>;
  #buffer = '';
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #error: unknown;

  constructor(ctx: FunctionContext, jobId: string, owner: string, from: 'merger' | 'inference', opts: { attempt?: number; intervalMs?: number; part?: number } = {}) {
    const { attempt, part } = opts;
    this.#send = (content, extra = {}) =>
      ctx.emit(
        makeEvent(
          EventTypes.jobDelta,
          { jobId, content, from, ...(attempt !== undefined && { attempt }), ...(part !== undefined && { part }), ...(extra.done && { done: true }), ...(extra.toolCalls && { toolCalls: extra.toolCalls }) },
          { source: ctx.instance, jobid: jobId, owner },
        ),
      );
    this.intervalMs = opts.intervalMs ?? 50;
  }

  readonly intervalMs: number;

  push(text: string): void {
    this.#buffer += text;
    this.#timer ??= setTimeout(() => void this.#drain(), this.intervalMs);
  }

  #drain(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const content = this.#buffer;
    this.#buffer = '';
    if (content) this.#chain = this.#chain.then(() => this.#send(content)).catch((err) => void (this.#error = err));
    return this.#chain;
  }

  /** Sends what is left; rejects if any send failed. */
  async flush(): Promise<void> {
    await this.#drain();
    if (this.#error) throw this.#error;
  }

  /** Sends what is left, then says the text is complete (stitched parts: the owner may move on to the next part). */
  async done(): Promise<void> {
    await this.flush();
    await this.#send('', { done: true });
  }

  /** Sends the text so far, then the model's tool calls, in order. */
  async toolCalls(calls: ToolCall[]): Promise<void> {
    await this.#drain();
    this.#chain = this.#chain.then(() => this.#send('', { toolCalls: calls })).catch((err) => void (this.#error = err));
    await this.flush();
  }

  /** Drops what is buffered (the work was cancelled). */
  discard(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#buffer = '';
  }
}
