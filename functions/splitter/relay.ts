import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { CancelledError, UpstreamError, messageOf } from '../lib/errors.ts';
import type { AnyEvent } from '../lib/events/event.ts';
import { EventTypes, type Usage } from '../lib/events/index.ts';
import type { ToolCall } from '../lib/events/schemas.ts';
import { chunk, completion, errorBody, usageChunk, wireToolCalls } from '../lib/http/openai.ts';
import type { FunctionContext } from '../lib/context.ts';
import type { ReplyHub } from './replies.ts';
import { answerTask, type TaskRequest } from './tasks.ts';
import { Stitcher } from './stitcher.ts';

/**
 * Relays a job's replies (job.progress, job.delta, job.completed, job.failed) to the client that
 * asked: as OpenAI SSE chunks (progress as `reasoning_content`, which OpenWebUI renders as a
 * collapsible reasoning block, then the answer as `content`), or as one chat completion.
 */

export interface Relay {
  jobId: string;
  model: string;
  start: () => Promise<void>;
  onCancel: () => void;
  hub: ReplyHub;
  /** Aborted when the client goes away: nothing will be relayed any more. */
  signal: AbortSignal;
}

/**
 * Waits for the job's replies, subscribing before the job starts so nothing is missed; ends with
 * the job, or at once when the client goes away (a cancelled job sends nothing more).
 */
function follow(relay: Relay, onEvent: (e: AnyEvent) => void | Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let chain = Promise.resolve();
    const off = relay.hub.subscribe(relay.jobId, (e) => {
      chain = chain.then(() => onEvent(e)).catch(() => undefined);
      if (e.type === EventTypes.jobCompleted || e.type === EventTypes.jobFailed) {
        off();
        void chain.then(resolve);
      }
    });
    relay.signal.addEventListener(
      'abort',
      () => {
        off();
        resolve();
      },
      { once: true },
    );
    relay.start().catch((err) => {
      off();
      if (!(err instanceof CancelledError)) {
        void Promise.resolve(onEvent({ type: EventTypes.jobFailed, data: { jobId: relay.jobId, error: messageOf(err) } } as AnyEvent)).then(() => resolve());
      } else resolve();
    });
  });
}

/**
 * One progress step of the reasoning block as a paragraph of its own: the blank line ends the
 * plan's numbered list, so the next step does not render nested under its last item.
 */
function reasoningLine(message: string): string {
  return `${message}\n\n`;
}

export function streamCompletion(c: Context, relay: Relay & { includeUsage: boolean }) {
  c.header('Cache-Control', 'no-cache');
  return streamSSE(c, async (stream: SSEStreamingApi) => {
    stream.onAbort(relay.onCancel);
    const send = (obj: unknown) => stream.writeSSE({ data: JSON.stringify(obj) });
    await send(chunk(relay.jobId, relay.model, { role: 'assistant', content: '' }));
    let usage: Usage | undefined;
    let failed: string | undefined;
    // Fast path: the attempt whose text the client has been given. A retry after text went out
    // cannot take it back, so it is shown as a restart rather than spliced in silently.
    let shownAttempt: number | undefined;
    // Stitched synthesis: puts the parts' text, arriving from several models at once, in plan order.
    let stitcher: Stitcher | undefined;
    const content = async (text: string) => {
      if (text) await send(chunk(relay.jobId, relay.model, { content: text }));
    };
    let calls = 0;
    await follow(relay, async (e) => {
      if (stream.aborted) return;
      switch (e.type) {
        case EventTypes.jobProgress:
          await send(chunk(relay.jobId, relay.model, { reasoning_content: reasoningLine(e.data.message) }));
          if (e.data.stage === 'planned' && e.data.synthesis === 'stitch' && e.data.plan) stitcher = new Stitcher(e.data.plan.map((p) => p.title));
          if (e.data.stage === 'part.failed' && stitcher && e.data.index !== undefined) await content(stitcher.failed(e.data.index));
          break;
        case EventTypes.jobDelta: {
          if (stitcher && e.data.segment === 'opening') {
            await content(stitcher.opening(e.data.content));
            break;
          }
          if (stitcher && e.data.part !== undefined) {
            const attempt = e.data.attempt ?? 1;
            await content(stitcher.text(e.data.part, attempt, e.data.content));
            if (e.data.done) await content(stitcher.done(e.data.part, attempt));
            break;
          }
          const attempt = e.data.attempt;
          if (attempt !== undefined && shownAttempt !== undefined && attempt > shownAttempt) {
            await send(chunk(relay.jobId, relay.model, { content: `\n\n[the model failed mid-answer; retrying (attempt ${attempt})]\n\n` }));
          }
          if (attempt !== undefined && e.data.content) shownAttempt = Math.max(shownAttempt ?? 0, attempt);
          if (e.data.content) await send(chunk(relay.jobId, relay.model, { content: e.data.content }));
          // As OpenAI streams them: each call with its index, id, name and arguments.
          if (e.data.toolCalls?.length) {
            await send(chunk(relay.jobId, relay.model, { tool_calls: wireToolCalls(e.data.toolCalls, calls) }));
            calls += e.data.toolCalls.length;
          }
          break;
        }
        case EventTypes.jobCompleted:
          usage = e.data.usage;
          // Whatever of the stitched answer is not out yet (held parts, the closing, the note on missing parts).
          if (stitcher) await content(stitcher.finish(e.data.answer));
          break;
        case EventTypes.jobFailed:
          failed = e.data.error;
          break;
      }
    });
    if (stream.aborted) return;
    if (failed !== undefined) {
      await send(errorBody(new UpstreamError(`job ${relay.jobId} failed: ${failed}`)));
    } else {
      await send(chunk(relay.jobId, relay.model, {}, calls ? 'tool_calls' : 'stop'));
      if (relay.includeUsage && usage) await send(usageChunk(relay.jobId, relay.model, usage));
    }
    await stream.writeSSE({ data: '[DONE]' });
  });
}

export async function wholeCompletion(c: Context, relay: Relay) {
  c.req.raw.signal.addEventListener('abort', relay.onCancel, { once: true });
  let reasoning = '';
  let answer: { text: string; usage: Usage } | undefined;
  let failed: string | undefined;
  const toolCalls: ToolCall[] = [];
  await follow(relay, (e) => {
    if (e.type === EventTypes.jobProgress) reasoning += reasoningLine(e.data.message);
    else if (e.type === EventTypes.jobDelta && e.data.toolCalls) toolCalls.push(...e.data.toolCalls);
    else if (e.type === EventTypes.jobCompleted) answer = { text: e.data.answer, usage: e.data.usage };
    else if (e.type === EventTypes.jobFailed) failed = e.data.error;
  });
  if (!answer) throw new UpstreamError(`job ${relay.jobId} failed: ${failed ?? 'cancelled'}`);
  return c.json(completion(relay.jobId, relay.model, answer.text, answer.usage, reasoning || undefined, toolCalls));
}

/**
 * A background task's answer (see tasks.ts): the planner model's output as it is, with no
 * reasoning text; streamed as one content chunk when the client asked for a stream.
 */
export async function taskCompletion(c: Context, ctx: FunctionContext, task: TaskRequest, model: string) {
  const res = await answerTask(ctx, task, c.req.raw.signal);
  if (!task.stream) return c.json(completion(task.jobId, model, res.content, res.usage));
  return streamSSE(c, async (stream) => {
    for (const data of [
      chunk(task.jobId, model, { role: 'assistant', content: res.content }),
      chunk(task.jobId, model, {}, 'stop'),
      usageChunk(task.jobId, model, res.usage),
    ])
      await stream.writeSSE({ data: JSON.stringify(data) });
    await stream.writeSSE({ data: '[DONE]' });
  });
}
