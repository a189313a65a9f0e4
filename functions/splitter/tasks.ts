import { lastUserMessage } from '../lib/chat.ts';
import { ollamaTag } from '../lib/config/models.ts';
import type { FunctionContext } from '../lib/context.ts';
import { messageOf } from '../lib/errors.ts';
import type { ChatMessage } from '../lib/events/index.ts';
import type { ChatResult } from '../lib/models/types.ts';
import type { JobRequest } from './handler.ts';

/**
 * OpenWebUI's background tasks (title, tags, follow-ups, search queries, autocomplete, emoji,
 * tool choice…): generated text for OpenWebUI itself, not questions to split. They are answered
 * in one call to the planner model, the output returned as it is (OpenWebUI parses its JSON),
 * and recorded as task jobs (`meta.task`) that ratings, rule statistics and the export skip.
 */

/**
 * The opening words of each task prompt of OpenWebUI 0.12.4 (`open_webui/config.py`,
 * DEFAULT_*_PROMPT_TEMPLATE), and the task name it sends in its metadata (`constants.py` TASKS).
 * Custom templates an admin writes usually keep the `### Task:` heading.
 */
const PROMPT_FORMS: Array<{ task: string; test: (user: string, system: string) => boolean }> = [
  { task: 'title_generation', test: (u) => /^### Task:\s*Generate a concise title/i.test(u) },
  { task: 'tags_generation', test: (u) => /^### Task:\s*Generate 1-3 broad tags/i.test(u) },
  { task: 'follow_up_generation', test: (u) => /^### Task:\s*Predict 3-5 useful messages/i.test(u) || (/^### Task:/.test(u) && /"follow_ups"/.test(u)) },
  { task: 'query_generation', test: (u) => /^### Task:/.test(u) && /"queries"/.test(u) },
  { task: 'autocomplete_generation', test: (u) => /^### Task:\s*You are an autocompletion system/i.test(u) },
  { task: 'image_prompt_generation', test: (u) => /^### Task:\s*Generate a detailed prompt for a.? image generation/i.test(u) },
  { task: 'emoji_generation', test: (u) => /^Your task is to reflect the speaker's likely facial expression through a fitting emoji/i.test(u) },
  { task: 'moa_response_generation', test: (u) => /^You have been provided with a set of responses from various models to the latest user query/i.test(u) },
  { task: 'function_calling', test: (_u, s) => /^Available Tools:/.test(s) },
  { task: 'task', test: (u) => /^### Task:/.test(u) },
];

/**
 * The background task a request is, or undefined for a user's question: the `X-OpenWebUI-Task`
 * header (what the connection's `{{TASK}}` placeholder sends; empty for chats), else the prompt form.
 * @example openWebUITask(undefined, [{ role: 'user', content: '### Task:\nGenerate a concise title…' }]) // 'title_generation'
 */
export function openWebUITask(header: string | undefined, messages: ChatMessage[]): string | undefined {
  const named = header?.trim();
  if (named) return named.replace(/[^\w.-]/g, '_').slice(0, 64);
  const user = lastUserMessage(messages).trimStart();
  const system = messages.find((m) => m.role === 'system')?.content.trimStart() ?? '';
  return PROMPT_FORMS.find((f) => f.test(user, system))?.task;
}

/**
 * A background task: a job request (`model` is what the client asked for, recorded; the planner
 * model answers whatever it is), plus which task it is.
 */
export type TaskRequest = Pick<JobRequest, 'jobId' | 'model' | 'messages' | 'stream' | 'meta' | 'principal' | 'maxTokens' | 'temperature'> & { task: string };

/**
 * Answers a background task with one planner-model call, straight from the splitter: no plan, no
 * bus, so it never waits for (or holds) an inference worker that a user's answer needs.
 * The job is recorded as a task job and completed with the output; a failure fails it visibly.
 * @example const { content } = await answerTask(ctx, { jobId, model: 'aiproc', task: 'title_generation', messages, stream: false, meta: {} })
 */
export async function answerTask(ctx: FunctionContext, req: TaskRequest, signal?: AbortSignal): Promise<ChatResult> {
  const { config } = ctx;
  await ctx.store.createJob({
    id: req.jobId,
    model: req.model,
    messages: req.messages,
    owner: ctx.instance,
    stream: req.stream,
    meta: { ...req.meta, task: req.task },
    ...(req.principal && { principal: req.principal }),
  });
  try {
    const res = await ctx.model.chat({
      model: ollamaTag(config, config.planner),
      messages: req.messages,
      // OpenWebUI asks for up to 1000 tokens; a title or a tag list needs far fewer.
      maxTokens: Math.min(req.maxTokens ?? 1000, 1000),
      ...(req.temperature !== undefined && { temperature: req.temperature }),
      ...(signal && { signal }),
    });
    await ctx.store.completeJob(req.jobId, res.content, res.usage);
    return res;
  } catch (err) {
    await ctx.store.failJob(req.jobId, `the ${req.task} task failed: ${messageOf(err)}`).catch(() => undefined);
    throw err;
  }
}
