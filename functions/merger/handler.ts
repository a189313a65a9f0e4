import { randomUUID } from 'node:crypto';
import type { AnyEvent } from '../lib/events/event.ts';
import { lastUserMessage } from '../lib/chat.ts';
import { ollamaTag } from '../lib/config/models.ts';
import type { DeliveryInfo, FunctionContext } from '../lib/context.ts';
import { BadInputError, RetryLaterError, messageOf, publicMessage } from '../lib/errors.ts';
import { EventTypes, makeEvent } from '../lib/events/index.ts';
import { DeltaSender, progress } from '../lib/progress.ts';
import { recentTurns } from '../lib/history.ts';
import { systemWithRules } from '../lib/rules.ts';
import { withUserSystem } from '../lib/system-prompt.ts';
import { mergerPrompt, mergerSystem, missingNote } from './prompts.ts';
import { startDependents } from './dependents.ts';
import { stitchedAnswer, writeOpening } from './stitch.ts';

/**
 * Records a part result (idempotently: the same part twice changes nothing) and, when it was the
 * last part, synthesises the job's answer exactly once.
 * @example bus.consume(Queues.results, (ev, info) => mergerHandler(ev, ctx, info), …)
 */
export async function mergerHandler(event: AnyEvent, ctx: FunctionContext, info: DeliveryInfo): Promise<void> {
  if (event.type === EventTypes.jobPlanned) return writeOpening(ctx, event.data.jobId, event.owner ?? ctx.instance, info.signal);
  if (event.type !== EventTypes.taskCompleted && event.type !== EventTypes.taskFailed)
    throw new BadInputError(`the merger takes ${EventTypes.taskCompleted}, ${EventTypes.taskFailed} or ${EventTypes.jobPlanned}, not ${event.type}`, { param: 'type' });
  const d = event.data;
  const owner = event.owner ?? ctx.instance;
  // Why a part failed reaches its job record and the client, from whoever gave it up (an
  // inference process, the dead-letter relay, Knative's dead-letter sink): without the addresses
  // inside the deployment that a model server's or a store's error may quote.
  const failure = event.type === EventTypes.taskFailed ? publicMessage(event.data.error) : '';
  const r = await ctx.store.recordPart(
    event.type === EventTypes.taskFailed
      ? { jobId: d.jobId, index: d.index, status: 'failed', error: failure, usage: { promptTokens: 0, completionTokens: 0 }, finishedAt: event.time, attempts: d.attempts }
      : {
          jobId: d.jobId,
          index: d.index,
          status: 'completed',
          output: event.data.output,
          ...(event.data.toolCalls?.length && { toolCalls: event.data.toolCalls }),
          usage: event.data.usage,
          startedAt: event.data.startedAt,
          finishedAt: event.data.finishedAt,
          attempts: d.attempts,
        },
  );
  if (r.recorded) {
    ctx.metrics?.partRecorded(event);
    await progress(ctx, owner, {
      jobId: d.jobId,
      stage: event.type === EventTypes.taskFailed ? 'part.failed' : 'part.completed',
      index: d.index,
      message: event.type === EventTypes.taskFailed ? `Part ${d.index + 1} failed: ${failure}` : `Part ${d.index + 1} done.`,
    });
  }
  // Parts waiting for this one may start now (a failed dependency too: they go on without it).
  const complete = r.complete || (r.recorded && (await startDependents(ctx, d.jobId, owner)));
  if (complete) await synthesise(ctx, d.jobId, info.signal);
}

/**
 * Writes the final answer of a job whose parts are all in, once: the store's claim decides who.
 * The claim is a lease, renewed while the synthesis runs (a slow, healthy synthesis is never
 * taken over) and given back when it fails (a retry need not wait for it to run out).
 * Fast path: the part's answer is the answer (already streamed). All parts failed: job.failed.
 * Otherwise the merger model combines the parts, streaming deltas to the owner.
 * @example await synthesise(ctx, jobId)
 */
export async function synthesise(ctx: FunctionContext, jobId: string, signal?: AbortSignal): Promise<void> {
  const lease = ctx.settings.AIPROC_SYNTHESIS_LEASE_S;
  // One claimant per attempt, even within one process: the lease is what makes it exactly once.
  const claimant = `${ctx.instance}/${randomUUID().slice(0, 8)}`;
  const claim = await ctx.store.claimSynthesis(jobId, claimant, lease);
  if (claim === 'done') return;
  if (claim === 'busy') throw new RetryLaterError(`another merger is synthesising job ${jobId}`);
  const renew = setInterval(() => {
    ctx.store
      .renewSynthesis(jobId, claimant, lease)
      .then((held) => held || ctx.log.warn({ jobId }, 'lost the synthesis lease'))
      .catch((err) => ctx.log.warn({ jobId, err: messageOf(err) }, 'could not renew the synthesis lease'));
  }, Math.max(250, (lease * 1000) / 3));
  try {
    await synthesiseClaimed(ctx, jobId, signal);
  } catch (err) {
    await ctx.store.releaseSynthesis(jobId, claimant).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(renew);
  }
}

async function synthesiseClaimed(ctx: FunctionContext, jobId: string, signal?: AbortSignal): Promise<void> {
  const job = await ctx.store.getJob(jobId);
  if (!job || job.status === 'cancelled') return;
  const owner = job.owner;
  const done = job.parts.filter((p) => p.status === 'completed');
  const missing = job.parts.filter((p) => p.status !== 'completed');

  if (done.length === 0) {
    const error = `every part failed: ${missing.map((p) => `part ${p.index + 1} "${p.title}": ${p.error ?? p.status}`).join('; ')}`;
    await failJob(ctx, jobId, owner, error);
    return;
  }

  let answer: string;
  let usage = { promptTokens: 0, completionTokens: 0 };
  if (job.fastPath) {
    answer = done[0]!.output ?? '';
  } else if (job.synthesis === 'stitch') {
    // The part answers already went to the client as they came; only the closing is written now.
    await progress(ctx, owner, { jobId, stage: 'merging', message: `Writing the closing with ${ctx.config.merger}.` });
    ({ answer, usage } = await stitchedAnswer(ctx, job, signal));
  } else {
    await progress(ctx, owner, { jobId, stage: 'merging', message: `Merging ${done.length} part answers with ${ctx.config.merger}.` });
    const rules = await ctx.rules.get('merger', ctx.config.merger);
    if (rules.length) await ctx.store.recordRulesApplied(jobId, rules.map((r) => r.id));
    const deltas = new DeltaSender(ctx, jobId, owner, 'merger', { attempt: Math.max(1, job.synthesisAttempts) });
    try {
      const res = await ctx.model.chat({
        model: ollamaTag(ctx.config, ctx.config.merger),
        messages: [
          { role: 'system', content: withUserSystem(systemWithRules(mergerSystem, rules), job.messages, 'merger') },
          ...recentTurns(job.messages),
          { role: 'user', content: mergerPrompt(lastUserMessage(job.messages), done, missing) },
        ],
        maxTokens: job.meta.maxTokens ?? ctx.settings.AIPROC_MAX_TOKENS * 2,
        ...(job.meta.sampling && { sampling: job.meta.sampling }),
        onText: (t) => deltas.push(t),
        ...(signal && { signal }),
      });
      answer = res.content;
      usage = res.usage;
    } catch (err) {
      deltas.discard();
      ctx.log.warn({ jobId, err: messageOf(err) }, 'synthesis failed');
      throw err;
    }
    const note = missingNote(missing);
    if (note) deltas.push(note);
    answer += note;
    await deltas.flush();
  }
  await ctx.store.completeJob(jobId, answer, usage);
  // The job's usage so far (planning and parts) plus the synthesis: what the store now holds.
  const total = { promptTokens: job.usage.promptTokens + usage.promptTokens, completionTokens: job.usage.completionTokens + usage.completionTokens };
  await ctx.emit(
    makeEvent(
      EventTypes.jobCompleted,
      { jobId, answer, usage: total, failedParts: missing.map((p) => p.index) },
      { source: ctx.instance, jobid: jobId, owner },
    ),
  );
}

/** Fails a job visibly: the store records why, and the splitter that owns it tells the client. */
export async function failJob(ctx: FunctionContext, jobId: string, owner: string, error: string): Promise<void> {
  await ctx.store.failJob(jobId, error);
  await ctx.emit(makeEvent(EventTypes.jobFailed, { jobId, error }, { source: ctx.instance, jobid: jobId, owner }));
}

/**
 * Keeps jobs from hanging, run at merger start and then every half lease:
 * - jobs whose parts are all in but whose synthesis never finished (a merger died, or failed):
 *   synthesised again, or failed once `AIPROC_TASK_ATTEMPTS` syntheses were tried;
 * - jobs with no change for `AIPROC_JOB_TIMEOUT_S` (their work was lost): failed with the reason.
 * @example const stop = startRecovery(ctx)
 */
export function startRecovery(ctx: FunctionContext): () => void {
  const lease = ctx.settings.AIPROC_SYNTHESIS_LEASE_S;
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      for (const jobId of await ctx.store.jobsAwaitingSynthesis(lease)) {
        const job = await ctx.store.getJob(jobId);
        if (!job) continue;
        if (job.synthesisAttempts >= ctx.settings.AIPROC_TASK_ATTEMPTS) {
          await failJob(ctx, jobId, job.owner, `could not merge the answers after ${job.synthesisAttempts} attempts`);
          continue;
        }
        ctx.log.info({ jobId }, 'recovering an unfinished synthesis');
        await synthesise(ctx, jobId).catch((err) => ctx.log.warn({ jobId, err: messageOf(err) }, 'recovery failed; will retry'));
      }
      const timeout = ctx.settings.AIPROC_JOB_TIMEOUT_S;
      for (const jobId of await ctx.store.staleJobs(timeout)) {
        const job = await ctx.store.getJob(jobId);
        if (!job) continue;
        ctx.log.warn({ jobId }, 'failing a job that stopped moving');
        await failJob(ctx, jobId, job.owner, `no progress for ${timeout} s (AIPROC_JOB_TIMEOUT_S): its work was lost, e.g. a process stopped while it ran`);
      }
    } catch (err) {
      ctx.log.warn({ err: messageOf(err) }, 'recovery sweep failed');
    } finally {
      running = false;
    }
  };
  void sweep();
  const timer = setInterval(() => void sweep(), Math.max(1000, (lease * 1000) / 2));
  timer.unref();
  return () => clearInterval(timer);
}
