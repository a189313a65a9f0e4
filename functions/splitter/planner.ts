import { z } from 'zod';
import { lastUserMessage } from '../lib/chat.ts';
import { ollamaTag } from '../lib/config/models.ts';
import type { FunctionContext } from '../lib/context.ts';
import { CancelledError, messageOf } from '../lib/errors.ts';
import { SynthesisSchema, type ChatMessage, type PlanPart, type Synthesis, type Usage } from '../lib/events/schemas.ts';
import { systemWithRules } from '../lib/rules.ts';
import { repairDependencies } from './dependencies.ts';
import { plannerRequest } from './history.ts';
import { withUserSystem } from '../lib/system-prompt.ts';
import { plannerExamples, plannerSystem, planSchema } from './prompts.ts';

const RawPlan = z.object({
  parts: z
    .array(
      z.object({
        title: z.string().trim().min(1),
        prompt: z.string().trim().min(1),
        model: z.string().trim(),
        // Small planners write odd things here: anything that is not a list of numbers means "no dependencies".
        after: z.array(z.number()).optional().catch(undefined),
      }),
    )
    .min(1),
  synthesis: SynthesisSchema.optional().catch(undefined),
});

export interface Plan {
  parts: PlanPart[];
  fastPath: boolean;
  usage: Usage;
  /** Why the plan fell back to one part, when it did. */
  fallback?: string;
  /** How the planner wants the answers put together, when it said. */
  synthesis?: Synthesis;
  ruleIds: string[];
}

/**
 * Asks the planner model for a plan held to a JSON schema, validates it, caps the number of parts,
 * keeps only configured models, and falls back to one part when the output is unusable.
 * One part means the fast path: no synthesis, tokens streamed straight through.
 * @example const plan = await makePlan(ctx, messages, signal)
 */
export async function makePlan(ctx: FunctionContext, messages: ChatMessage[], signal?: AbortSignal): Promise<Plan> {
  const { config } = ctx;
  const maxParts = ctx.settings.AIPROC_MAX_PARTS ?? config.maxParts;
  const slugs = config.models.map((m) => m.slug);
  const question = lastUserMessage(messages);
  const single = (fallback?: string, usage: Usage = { promptTokens: 0, completionTokens: 0 }, ruleIds: string[] = [], model = config.planner): Plan => ({
    parts: [{ index: 0, title: 'Answer', prompt: question, model }],
    fastPath: true,
    usage,
    ruleIds,
    ...(fallback && { fallback }),
  });

  const rules = await ctx.rules.get('planner', config.planner);
  const ruleIds = rules.map((r) => r.id);
  let raw: string;
  let usage: Usage;
  try {
    const res = await ctx.model.chat({
      model: ollamaTag(config, config.planner),
      messages: [
        { role: 'system', content: withUserSystem(systemWithRules(plannerSystem(config.models, maxParts), rules), messages, 'planner') },
        ...plannerExamples(config.models),
        { role: 'user', content: plannerRequest(messages, question) },
      ],
      format: planSchema(slugs, maxParts),
      temperature: 0,
      maxTokens: 200 + 200 * maxParts,
      ...(signal && { signal }),
    });
    raw = res.content;
    usage = res.usage;
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    ctx.log.warn({ err: messageOf(err) }, 'planner failed; answering in one part');
    return single(`the planner failed: ${messageOf(err)}`, undefined, ruleIds);
  }

  let parsed: z.infer<typeof RawPlan>;
  try {
    parsed = RawPlan.parse(JSON.parse(raw));
  } catch (err) {
    ctx.log.warn({ raw: raw.slice(0, 500) }, 'planner output unusable; answering in one part');
    return single(`the plan was unusable (${messageOf(err).slice(0, 200)})`, usage, ruleIds);
  }
  // Small planners repeat a part; the same prompt twice would be answered (and merged) twice.
  const firstOf = parsed.parts.map((p, _i, all) => all.findIndex((q) => q.prompt.toLowerCase() === p.prompt.toLowerCase()));
  const keptRaw = firstOf.map((f, i) => f === i).map((k, i) => (k ? i : -1)).filter((i) => i >= 0).slice(0, maxParts);
  // Where each part the planner wrote ended up (a repeat: where its first copy did; cut off: nowhere).
  const newIndex = (raw: number) => keptRaw.indexOf(firstOf[raw] ?? -1);
  const after = repairDependencies(
    keptRaw.map((raw) => (parsed.parts[raw]!.after ?? []).map((j) => (Number.isInteger(j) && j >= 0 && j < parsed.parts.length ? newIndex(j) : j))),
    ctx.log,
  );
  const parts: PlanPart[] = keptRaw.map((raw, index) => {
    const p = parsed.parts[raw]!;
    return {
      index,
      title: p.title.slice(0, 200),
      prompt: p.prompt,
      model: slugs.includes(p.model) ? p.model : config.planner,
      ...(after[index]!.length && { after: after[index] }),
    };
  });
  if (parts.length === 1) return single(undefined, usage, ruleIds, parts[0]!.model);
  return { parts, fastPath: false, usage, ruleIds, ...(parsed.synthesis && { synthesis: parsed.synthesis }) };
}
