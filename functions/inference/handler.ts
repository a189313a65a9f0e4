import type { AnyEvent } from '../lib/events/event.ts';
import { ollamaTag } from '../lib/config/models.ts';
import { tokenBudget } from '../lib/config/settings.ts';
import { BadInputError } from '../lib/errors.ts';
import type { DeliveryInfo, FunctionContext } from '../lib/context.ts';
import { EventTypes, makeEvent } from '../lib/events/index.ts';
import { DeltaSender, progress } from '../lib/progress.ts';
import { systemWithRules } from '../lib/rules.ts';
import { partSystem, withDependencies } from './prompts.ts';
import { checkResult } from './result.ts';


/**
 * Answers one part with this function's model: applies the active inference rules, runs the model
 * (on the fast path streaming tokens straight to the job's owner), emits task.completed.
 * Errors propagate so the transport retries (UpstreamError, RetryLaterError) or dead-letters them;
 * the dead letter becomes task.failed.
 * `serves`: the model slug this function is deployed for (checked to be configured when the
 * process starts); a task for any other is refused (400).
 * @example bus.consume(Queues.task(slug), (ev, info) => inferenceHandler(ev, ctx, info, slug), …)
 */
export async function inferenceHandler(event: AnyEvent, ctx: FunctionContext, info: DeliveryInfo, serves: string): Promise<void> {
  if (event.type !== EventTypes.taskRequested) throw new BadInputError(`inference takes ${EventTypes.taskRequested}, not ${event.type}`, { param: 'type' });
  const { jobId, part, total, fastPath, context } = event.data;
  // One function, one model: a task for another (or for a model nobody configured) is refused before any work.
  if (part.model !== serves || (event.model !== undefined && event.model !== serves)) {
    throw new BadInputError(`data.part.model: this inference function answers ${serves} only, not ${part.model}`, { param: 'data.part.model' });
  }
  const owner = event.owner ?? ctx.instance;
  const started = await ctx.store.startPart(jobId, part.index);
  if (started.cancelled) {
    ctx.log.info({ jobId, index: part.index }, 'job cancelled; skipping part');
    return;
  }
  const startedAt = new Date().toISOString();
  await progress(ctx, owner, {
    jobId,
    stage: 'part.started',
    index: part.index,
    message: total > 1 ? `Part ${part.index + 1} (${part.title}) started on ${part.model}${started.attempt > 1 ? `, attempt ${started.attempt}` : ''}.` : `${part.model} is writing the answer${started.attempt > 1 ? ` (attempt ${started.attempt})` : ''}.`,
  });
  const rules = await ctx.rules.get('inference', part.model);
  if (rules.length) await ctx.store.recordRulesApplied(jobId, rules.map((r) => r.id));
  // Streamed to the owner: on the fast path as the answer; stitched, tagged with the part, for the owner to put in plan order.
  const stitched = !fastPath && event.data.synthesis === 'stitch';
  const deltas = fastPath || stitched ? new DeltaSender(ctx, jobId, owner, 'inference', { attempt: started.attempt, ...(stitched && { part: part.index }) }) : undefined;
  const { format, tools, toolChoice, sampling } = event.data;
  let result;
  try {
    result = await ctx.model.chat({
      model: ollamaTag(ctx.config, part.model),
      messages: [
        { role: 'system', content: systemWithRules(partSystem(total, { format, toolChoice }), rules) },
        ...context,
        { role: 'user', content: withDependencies(part.prompt, event.data.dependencies ?? []), ...(event.data.images && { images: event.data.images }) },
        ...(event.data.followUp ?? []),
      ],
      maxTokens: tokenBudget(ctx.settings, event.data.maxTokens),
      ...(event.data.temperature !== undefined && { temperature: event.data.temperature }),
      ...(sampling && { sampling }),
      ...(format && { format }),
      ...(tools && { tools, ...(toolChoice && { toolChoice }) }),
      // Structured output goes out once it is checked: a retry cannot take back streamed JSON.
      ...(deltas && !format && { onText: (t: string) => deltas.push(t) }),
      signal: info.signal,
    });
    const raw = result.content;
    result = checkResult(ctx, jobId, result, event.data);
    if (deltas) {
      deltas.push(format ? result.content : result.content.slice(raw.length));
      if (result.toolCalls) await deltas.toolCalls(result.toolCalls);
    }
    if (stitched) await deltas?.done();
    else await deltas?.flush();
  } catch (err) {
    deltas?.discard();
    throw err;
  }
  await ctx.emit(
    makeEvent(
      EventTypes.taskCompleted,
      {
        jobId,
        index: part.index,
        model: part.model,
        output: result.content,
        ...(result.toolCalls?.length && { toolCalls: result.toolCalls }),
        usage: result.usage,
        startedAt,
        finishedAt: new Date().toISOString(),
        attempts: started.attempt,
      },
      { source: ctx.instance, jobid: jobId, model: part.model, owner },
    ),
  );
}
