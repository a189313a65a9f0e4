import type { FunctionContext } from '../lib/context.ts';
import { messageOf } from '../lib/errors.ts';
import { progress } from '../lib/progress.ts';
import { conversationContext, requestPart, type TaskDefaults } from '../lib/tasks.ts';

/** The inbox source under which "part N of job J was started" is recorded, so it happens once. */
const STARTED = 'aiproc.merger/dependents';

/**
 * Starts the parts that waited for others (`after`) once every part they wait for has a result,
 * with those answers (or why there is none) in their context. Each such part is started once,
 * whichever merger sees its last dependency finish; a part that cannot be started is recorded as
 * failed with the reason, so the job still ends. Says whether that made the job complete.
 * @example if (await startDependents(ctx, jobId, owner)) await synthesise(ctx, jobId)
 */
export async function startDependents(ctx: FunctionContext, jobId: string, owner: string): Promise<boolean> {
  const job = await ctx.store.getJob(jobId);
  if (!job || job.status !== 'running' || !job.plan) return false;
  const byIndex = new Map(job.parts.map((p) => [p.index, p]));
  const finished = (i: number) => ['completed', 'failed'].includes(byIndex.get(i)?.status ?? '');
  for (const part of job.plan) {
    if (!part.after?.length || byIndex.get(part.index)?.status !== 'pending' || !part.after.every(finished)) continue;
    if (!(await ctx.store.markEventProcessed(STARTED, `${jobId}/${part.index}`))) continue;
    const dependencies = part.after.map((i) => {
      const p = byIndex.get(i)!;
      return { index: i, title: p.title, output: p.status === 'completed' ? p.output : null, error: p.error };
    });
    const failed = dependencies.filter((d) => d.output === null);
    await progress(ctx, owner, {
      jobId,
      stage: 'part.started',
      index: part.index,
      message: `Part ${part.index + 1} (${part.title}) may start: ${part.after.map((i) => `part ${i + 1}`).join(', ')} ${part.after.length > 1 ? 'are' : 'is'} done${failed.length ? ` (${failed.map((d) => `part ${d.index + 1}`).join(', ')} failed; it goes on without)` : ''}.`,
    });
    try {
      const defaults = (job.taskDefaults ?? { total: job.plan.length, fastPath: false }) as TaskDefaults;
      await requestPart(ctx, { jobId, owner, part, defaults, context: conversationContext(job.messages), dependencies });
    } catch (err) {
      const error = `could not start it: ${messageOf(err)}`;
      ctx.log.error({ jobId, index: part.index, err: messageOf(err) }, 'could not start a dependent part');
      const r = await ctx.store.recordPart({ jobId, index: part.index, status: 'failed', error, usage: { promptTokens: 0, completionTokens: 0 }, finishedAt: new Date().toISOString(), attempts: 0 });
      await progress(ctx, owner, { jobId, stage: 'part.failed', index: part.index, message: `Part ${part.index + 1} failed: ${error}` });
      return r.complete || (await startDependents(ctx, jobId, owner));
    }
  }
  return false;
}
