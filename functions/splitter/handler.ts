import { lastUserIndex, lastUserMessage } from '../lib/chat.ts';
import type { FunctionContext } from '../lib/context.ts';
import { CancelledError, messageOf } from '../lib/errors.ts';
import { EventTypes, makeEvent, type ChatMessage, type PlanPart, type Synthesis } from '../lib/events/index.ts';
import { progress } from '../lib/progress.ts';
import type { JobMeta, NewJob } from '../lib/store/types.ts';
import { conversationContext, requestPart, type TaskDefaults } from '../lib/tasks.ts';
import type { OutputFormat, Sampling, Tool, ToolChoice } from '../lib/events/schemas.ts';
import { needsOf, planOnePart } from './needs.ts';
import { makePlan, type Plan } from './planner.ts';
import { obviouslySingle } from './quick-check.ts';

export interface JobRequest {
  jobId: string;
  /** `aiproc` (plan, split, merge) or a model slug (that model alone, fast path). */
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  meta: JobMeta;
  /** Who asked: recorded with the job; it decides who may read it. */
  principal?: { id: string; role: string };
  maxTokens?: number;
  temperature?: number;
  /** Forces how a split answer is put together (the request's X-Aiproc-Synthesis header). */
  synthesis?: Synthesis;
  /** The client's sampling settings: for the parts and the merger; the planner keeps its own. */
  sampling?: Sampling;
  /** Structured output, tools, images: answered in one part by a model that can. */
  format?: OutputFormat;
  tools?: Tool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  images?: boolean;
}

/** The name of the split-and-merge pipeline as a model in /v1/models. */
export const PIPELINE_MODEL = 'aiproc';

/**
 * The job record for a request, owned by this instance (`ctx.instance`: replies come back here).
 * The API stores it (under the principal's limit) before it answers, then calls startJob.
 * @example await ctx.store.createJob(newJob(ctx, req))
 */
export function newJob(ctx: FunctionContext, req: JobRequest): NewJob {
  const meta = { ...req.meta, ...(req.sampling && { sampling: req.sampling }), ...(req.maxTokens !== undefined && { maxTokens: req.maxTokens }) };
  return { id: req.jobId, model: req.model, messages: req.messages, owner: ctx.instance, stream: req.stream, meta, ...(req.principal && { principal: req.principal }) };
}

/**
 * The splitter's work for one recorded job (newJob): plan it, publish one task.requested per
 * part. Replies (progress, deltas, completion) come back to this instance (`ctx.instance` = owner).
 * A failure before the tasks are out fails the job visibly (job.failed), never silently.
 * @example await ctx.store.createJob(newJob(ctx, req)); await startJob(ctx, req, signal)
 */
export async function startJob(ctx: FunctionContext, req: JobRequest, signal?: AbortSignal): Promise<void> {
  const owner = ctx.instance;
  try {
    const one = (model: string, fallback?: string): Plan => ({
      parts: [{ index: 0, title: 'Answer', prompt: lastUserMessage(req.messages), model }],
      fastPath: true,
      usage: { promptTokens: 0, completionTokens: 0 },
      ruleIds: [],
      ...(fallback && { fallback }),
    });
    // A greeting or one short question needs no planner call; anything else shows a first line
    // at once, since the planner may take seconds. A request that needs tools, structured output
    // or vision goes in one part to a model that can.
    const needs = needsOf(req);
    const quick = req.model === PIPELINE_MODEL && !needs.length ? obviouslySingle(req.messages) : undefined;
    if (req.model === PIPELINE_MODEL && !quick) await progress(ctx, owner, { jobId: req.jobId, stage: 'planning', message: 'Planning…' });
    const plan: Plan =
      req.model !== PIPELINE_MODEL
        ? one(req.model)
        : quick
          ? one(ctx.config.planner, `no planning needed: ${quick}`)
          : needs.length
            ? await planOnePart(ctx, req.messages, needs, signal)
            : await makePlan(ctx, req.messages, signal);
    if (signal?.aborted) throw new CancelledError();
    const synthesis = plan.fastPath ? undefined : synthesisOf(ctx, req, plan);
    await ctx.store.setPlan(req.jobId, plan.parts, plan.fastPath, plan.usage);
    if (plan.ruleIds.length) await ctx.store.recordRulesApplied(req.jobId, plan.ruleIds);
    const defaults: TaskDefaults = {
      total: plan.parts.length,
      fastPath: plan.fastPath,
      ...(req.maxTokens !== undefined && { maxTokens: req.maxTokens }),
      ...(req.temperature !== undefined && { temperature: req.temperature }),
      ...(synthesis && { synthesis }),
      ...taskOptions(req, plan),
    };
    if (synthesis) await ctx.store.setSynthesis(req.jobId, synthesis, defaults);
    await progress(ctx, owner, {
      jobId: req.jobId,
      stage: 'planned',
      message: describePlan(plan, synthesis),
      plan: plan.parts,
      ...(synthesis && { synthesis }),
    });
    // The merger writes the stitched answer's opening while the parts run.
    if (synthesis === 'stitch') await ctx.emit(makeEvent(EventTypes.jobPlanned, { jobId: req.jobId, synthesis }, { source: ctx.instance, jobid: req.jobId, owner }));
    const context = conversationContext(req.messages);
    // Parts that depend on others are started by the merger once those are done.
    for (const part of plan.parts.filter((p) => !p.after?.length)) await requestPart(ctx, { jobId: req.jobId, owner, part, defaults, context });
  } catch (err) {
    if (err instanceof CancelledError) {
      await ctx.store.cancelJob(req.jobId);
      throw err;
    }
    const error = `could not start the job: ${messageOf(err)}`;
    await ctx.store.failJob(req.jobId, error).catch(() => undefined);
    await ctx.emit(makeEvent(EventTypes.jobFailed, { jobId: req.jobId, error }, { source: ctx.instance, jobid: req.jobId, owner }));
  }
}

function describePlan(plan: Plan, synthesis?: Synthesis): string {
  if (plan.fastPath) {
    const why = plan.fallback ? ` (${plan.fallback})` : '';
    return `Answering in one part with ${plan.parts[0]!.model}${why}.`;
  }
  const lines = plan.parts.map((p: PlanPart) => `${p.index + 1}. ${p.title} → ${p.model}${p.after?.length ? ` (waits for ${p.after.map((i) => `part ${i + 1}`).join(', ')})` : ''}`);
  const how = synthesis === 'rewrite' ? 'rewritten into one answer' : 'answers shown as they are written, in order';
  return `Split into ${plan.parts.length} parts (${how}):\n${lines.join('\n')}`;
}

/** The request's header, else the server's AIPROC_SYNTHESIS, else what the planner chose; stitched by default. */
function synthesisOf(ctx: FunctionContext, req: JobRequest, plan: Plan): Synthesis {
  const server = ctx.settings.AIPROC_SYNTHESIS;
  return req.synthesis ?? (server !== 'auto' ? server : undefined) ?? plan.synthesis ?? 'stitch';
}

/**
 * The request's options every part of the job gets: sampling, structured output, tools; with one
 * part, also what follows the question (the model's tool calls and their results, for the turn that
 * uses them) and its images. A split job's parts each answer a piece of the question, not that turn.
 */
function taskOptions(req: JobRequest, plan: Plan): Partial<TaskDefaults> {
  const last = lastUserIndex(req.messages);
  const followUp = last >= 0 && plan.fastPath ? req.messages.slice(last + 1) : [];
  const images = plan.fastPath ? req.messages[last]?.images : undefined;
  return {
    ...(req.sampling && { sampling: req.sampling }),
    ...(req.format && { format: req.format }),
    ...(req.tools && { tools: req.tools }),
    ...(req.toolChoice && { toolChoice: req.toolChoice }),
    ...(req.parallelToolCalls !== undefined && { parallelToolCalls: req.parallelToolCalls }),
    ...(followUp.length && { followUp }),
    ...(images && { images }),
  };
}
