import { lastUserIndex } from './chat.ts';
import type { FunctionContext } from './context.ts';
import { EventTypes, makeEvent, type ChatMessage, type Dependency, type PlanPart, type TaskRequested } from './events/index.ts';

/** What every task of a job carries besides its part and context: set by the splitter, reused for parts started later. */
export type TaskDefaults = Omit<TaskRequested, 'jobId' | 'part' | 'context' | 'dependencies'>;

/** The conversation before the last user message: every part's context. */
export function conversationContext(messages: ChatMessage[]): ChatMessage[] {
  return messages.slice(0, Math.max(0, lastUserIndex(messages)));
}

/**
 * Publishes one part's task.requested, routed to its model's queue, replies to `owner`.
 * @example await requestPart(ctx, { jobId, owner, part, defaults, context })
 */
export async function requestPart(
  ctx: FunctionContext,
  t: { jobId: string; owner: string; part: PlanPart; defaults: TaskDefaults; context: ChatMessage[]; dependencies?: Dependency[] },
): Promise<void> {
  await ctx.emit(
    makeEvent(
      EventTypes.taskRequested,
      { ...t.defaults, jobId: t.jobId, part: t.part, context: t.context, ...(t.dependencies && { dependencies: t.dependencies }) },
      { source: ctx.instance, jobid: t.jobId, model: t.part.model, owner: t.owner },
    ),
  );
}
