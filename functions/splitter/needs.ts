import { lastUserMessage } from '../lib/chat.ts';
import type { FunctionContext } from '../lib/context.ts';
import type { ChatMessage } from '../lib/events/schemas.ts';
import { BadInputError } from '../lib/errors.ts';
import type { RequestOptions } from '../lib/http/openai.ts';
import { capabilitiesOf, type Capability } from '../lib/models/capabilities.ts';
import { PIPELINE_MODEL, type JobRequest } from './handler.ts';
import { makePlan, type Plan } from './planner.ts';

/** The request field each capability answers for, for the 400 that names it. */
const FIELD: Record<Capability, string> = { tools: 'tools', vision: 'messages', json: 'response_format' };
const WHAT: Record<Capability, string> = { tools: 'tool calling', vision: 'images (vision)', json: 'JSON output' };

/** The capabilities a request needs: tools, images, structured output. */
export function needsOf(o: Pick<JobRequest, 'tools' | 'format'> & { images?: boolean }): Capability[] {
  const needs: Capability[] = [];
  if (o.tools?.length) needs.push('tools');
  if (o.images) needs.push('vision');
  if (o.format) needs.push('json');
  return needs;
}

/**
 * The configured models that have every capability needed, in config order.
 * @example const slugs = await capableModels(ctx, ['tools'])
 */
export async function capableModels(ctx: FunctionContext, needs: Capability[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of ctx.config.models) {
    const caps = await capabilitiesOf(ctx.config, ctx.model, m.slug);
    if (needs.every((n) => caps.has(n))) out.push(m.slug);
  }
  return out;
}

/**
 * Refuses, with a 400 naming the field, a request the model cannot serve: tools to a model without
 * tool support, images where no vision model is configured, … On `aiproc` some model must do it all.
 * @example await checkCapabilities(ctx, 'codellama-7b', options)
 */
export async function checkCapabilities(ctx: FunctionContext, model: string, options: RequestOptions): Promise<void> {
  const needs = needsOf(options);
  if (!needs.length) return;
  if (model !== PIPELINE_MODEL) {
    const caps = await capabilitiesOf(ctx.config, ctx.model, model);
    const missing = needs.find((n) => !caps.has(n));
    if (missing) throw new BadInputError(`${FIELD[missing]}: ${model} does not support ${WHAT[missing]} (${why(ctx)})`, { param: FIELD[missing] });
    return;
  }
  if ((await capableModels(ctx, needs)).length) return;
  for (const n of needs) {
    if (!(await capableModels(ctx, [n])).length)
      throw new BadInputError(`${FIELD[n]}: no configured model supports ${WHAT[n]} (${why(ctx)})`, { param: FIELD[n] });
  }
  throw new BadInputError(`${FIELD[needs[0]!]}: no configured model supports ${needs.map((n) => WHAT[n]).join(' and ')} together`, { param: FIELD[needs[0]!] });
}

function why(ctx: FunctionContext): string {
  return ctx.model.backend === 'embedded' ? 'the embedded engine runs no tools and sees no images' : 'capabilities from Ollama /api/show, else models.json';
}

/** The request's options as the job carries them. */
export function jobOptions(o: RequestOptions): Partial<JobRequest> {
  return {
    ...(Object.keys(o.sampling).length && { sampling: o.sampling }),
    ...(o.sampling.temperature !== undefined && { temperature: o.sampling.temperature }),
    ...(o.format && { format: o.format }),
    ...(o.tools && { tools: o.tools }),
    ...(o.toolChoice && { toolChoice: o.toolChoice }),
    ...(o.parallelToolCalls !== undefined && { parallelToolCalls: o.parallelToolCalls }),
    ...(o.images && { images: true }),
  };
}

/**
 * A request that needs a capability (tools, structured output, images) is answered in one part:
 * a stitched JSON or a tool call split in two makes no sense. The planner still picks the model;
 * a pick that lacks the capability gives way to the first configured model that has it.
 * @example const plan = await planOnePart(ctx, messages, ['tools'], signal)
 */
export async function planOnePart(ctx: FunctionContext, messages: ChatMessage[], needs: Capability[], signal?: AbortSignal): Promise<Plan> {
  const capable = await capableModels(ctx, needs);
  const plan = await makePlan(ctx, messages, signal);
  const pick = plan.parts.map((p) => p.model).find((m) => capable.includes(m)) ?? capable[0]!;
  return { parts: [{ index: 0, title: 'Answer', prompt: lastUserMessage(messages), model: pick }], fastPath: true, usage: plan.usage, ruleIds: plan.ruleIds };
}
