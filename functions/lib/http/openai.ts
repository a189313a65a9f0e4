import { z } from 'zod';
import { AiprocError, BadInputError } from '../errors.ts';
import type { ChatMessage, Usage } from '../events/schemas.ts';

/** The OpenAI wire format in one place: request schema, chunks, completions, error objects. */

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const ContentSchema = z.union([
  z.string(),
  z.array(z.union([TextPart, z.object({ type: z.string() }).loose()])),
  z.null(),
]);

export const ChatCompletionRequestSchema = z
  .object({
    model: z.string({ error: 'model is required and must be a string' }).min(1, 'model must not be empty'),
    messages: z
      .array(
        z
          .object({
            role: z.enum(['system', 'developer', 'user', 'assistant'], { error: 'role must be one of system, developer, user, assistant' }),
            content: ContentSchema,
          })
          .loose(),
        { error: 'messages must be an array of messages' },
      )
      .min(1, 'messages must not be empty'),
    stream: z.boolean().optional().default(false),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
  })
  .loose();

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

/**
 * Validates a chat completion body; the error names the field (`messages[0].content`).
 * @example const req = parseChatRequest(await c.req.json())
 */
export function parseChatRequest(body: unknown): { req: ChatCompletionRequest; messages: ChatMessage[] } {
  const r = ChatCompletionRequestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || null;
    throw new BadInputError(`${param ?? 'body'}: ${issue.message}`, { param });
  }
  const messages = r.data.messages.map((m, i): ChatMessage => {
    const content = m.content;
    let text: string;
    if (content === null) text = '';
    else if (typeof content === 'string') text = content;
    else {
      const other = content.find((p) => p.type !== 'text');
      if (other) throw new BadInputError(`messages[${i}].content: only text parts are supported, got "${other.type}"`, { param: `messages[${i}].content` });
      text = content.map((p) => (p as { text: string }).text).join('');
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content: text };
  });
  if (!messages.some((m) => m.role === 'user' && m.content.trim() !== ''))
    throw new BadInputError('messages: at least one user message with text is needed', { param: 'messages' });
  return { req: r.data, messages };
}

const created = () => Math.floor(Date.now() / 1000);

/** A `chat.completion.chunk` with one delta. */
export function chunk(id: string, model: string, delta: Record<string, unknown>, finish: string | null = null) {
  return { id, object: 'chat.completion.chunk', created: created(), model, choices: [{ index: 0, delta, finish_reason: finish }] };
}

/** The trailing usage chunk (`stream_options.include_usage`): no choices, usage set. */
export function usageChunk(id: string, model: string, usage: Usage) {
  return { id, object: 'chat.completion.chunk', created: created(), model, choices: [], usage: toOpenAIUsage(usage) };
}

/** A whole `chat.completion`. */
export function completion(id: string, model: string, content: string, usage: Usage, reasoning?: string) {
  return {
    id,
    object: 'chat.completion',
    created: created(),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, ...(reasoning && { reasoning_content: reasoning }) }, finish_reason: 'stop' }],
    usage: toOpenAIUsage(usage),
  };
}

export function toOpenAIUsage(u: Usage) {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

/** The OpenAI error object for any thrown value. */
export function errorBody(err: unknown): { error: { message: string; type: string; param: string | null; code: string | null } } {
  if (err instanceof AiprocError) {
    const type = err.status === 401 ? 'authentication_error' : err.status === 403 ? 'permission_error' : err.status >= 500 ? 'server_error' : 'invalid_request_error';
    return { error: { message: err.message, type, param: err.param, code: err.code } };
  }
  // The details of an unexpected error go to the log, not to the client.
  return { error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' } };
}
