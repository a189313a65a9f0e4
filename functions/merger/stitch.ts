import { lastUserMessage } from '../lib/chat.ts';
import { ollamaTag } from '../lib/config/models.ts';
import type { FunctionContext } from '../lib/context.ts';
import { CancelledError, messageOf } from '../lib/errors.ts';
import { EventTypes, makeEvent, type Usage } from '../lib/events/index.ts';
import { recentTurns } from '../lib/history.ts';
import { systemWithRules } from '../lib/rules.ts';
import { withUserSystem } from '../lib/system-prompt.ts';
import { stitchAnswer } from '../lib/stitch.ts';
import type { JobView } from '../lib/store/types.ts';
import { closingPrompt, joinSystem, missingNote, openingPrompt } from './prompts.ts';

/** Token budgets of the joins: small, so they never dominate the time (the parts are the answer). */
export const OPENING_TOKENS = 60;
export const CLOSING_TOKENS = 120;
/**
 * Part 1 is held until the opening is out, so the opening may not take long: a merger model busy
 * with other work (one Ollama serving the merger and a part) must not hold the answer back.
 * After this the answer goes without an opening.
 */
export const OPENING_WAIT_MS = 5000;

const none: Usage = { promptTokens: 0, completionTokens: 0 };

/**
 * Writes the opening of a stitched answer while the parts run, once (the store keeps the first
 * opening written), and sends it to the owner, which holds part 1 until the opening is out.
 * A failed opening is an empty one: the answer does not need it.
 * @example await writeOpening(ctx, jobId, owner, signal)
 */
export async function writeOpening(ctx: FunctionContext, jobId: string, owner: string, signal?: AbortSignal): Promise<void> {
  const job = await ctx.store.getJob(jobId);
  if (!job || job.opening || !['running', 'merging'].includes(job.status)) return;
  const titles = (job.plan ?? []).map((p) => p.title);
  const { text, usage } = await joinCall(ctx, job, openingPrompt(lastUserMessage(job.messages), titles), OPENING_TOKENS, signal, OPENING_WAIT_MS);
  const opening = await ctx.store.setOpening(jobId, text, usage);
  // Only the writer whose opening the job kept sends it, so the owner shows what the store holds.
  if (opening !== text) return;
  await ctx.emit(makeEvent(EventTypes.jobDelta, { jobId, content: opening, from: 'merger', segment: 'opening' }, { source: ctx.instance, jobid: jobId, owner }));
}

/**
 * The stitched answer of a job whose parts are all in: its opening (an empty one if none was
 * written yet), the part answers verbatim under their titles, a short closing, the note on what is missing.
 * @example const { answer, usage } = await stitchedAnswer(ctx, job, signal)
 */
export async function stitchedAnswer(ctx: FunctionContext, job: JobView, signal?: AbortSignal): Promise<{ answer: string; usage: Usage }> {
  const opening = job.opening?.text ?? (await ctx.store.setOpening(job.id, '', none));
  const done = job.parts.filter((p) => p.status === 'completed');
  const missing = job.parts.filter((p) => p.status !== 'completed');
  const closing = await joinCall(ctx, job, closingPrompt(lastUserMessage(job.messages), done, missing), CLOSING_TOKENS, signal);
  const answer = stitchAnswer(opening, job.parts.map((p) => ({ title: p.title, output: p.status === 'completed' ? p.output : null })), closing.text, missingNote(missing));
  return { answer, usage: closing.usage };
}

/** One small call to the merger model for a join; the user's system prompt and the recent turns come along. Failing is not fatal: no join. */
async function joinCall(ctx: FunctionContext, job: JobView, prompt: string, maxTokens: number, signal?: AbortSignal, waitMs?: number): Promise<{ text: string; usage: Usage }> {
  const limits = [signal, waitMs !== undefined ? AbortSignal.timeout(waitMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  const callSignal = limits.length ? AbortSignal.any(limits) : undefined;
  const rules = await ctx.rules.get('merger', ctx.config.merger);
  if (rules.length) await ctx.store.recordRulesApplied(job.id, rules.map((r) => r.id));
  try {
    const res = await ctx.model.chat({
      model: ollamaTag(ctx.config, ctx.config.merger),
      messages: [{ role: 'system', content: withUserSystem(systemWithRules(joinSystem, rules), job.messages, 'merger') }, ...recentTurns(job.messages), { role: 'user', content: prompt }],
      maxTokens: Math.min(maxTokens, ctx.settings.AIPROC_MAX_TOKENS),
      ...(job.meta.sampling && { sampling: job.meta.sampling }),
      ...(callSignal && { signal: callSignal }),
    });
    return { text: res.content.trim(), usage: res.usage };
  } catch (err) {
    if (signal?.aborted || (err instanceof CancelledError && !callSignal?.aborted)) throw err;
    ctx.log.warn({ jobId: job.id, err: messageOf(err) }, 'a join of the stitched answer failed; going on without it');
    return { text: '', usage: none };
  }
}
