import { z } from 'zod';
import { AiprocError, BadInputError, publicMessage } from '../errors.ts';
import type { ChatMessage, OutputFormat, Sampling, Tool, ToolCall, ToolChoice, Usage } from '../events/schemas.ts';
import { schemaProblem } from '../json-schema.ts';
import { refusal } from './openai-params.ts';
import { requireWellFormed } from '../well-formed.ts';

/** The OpenAI wire format in one place: request schema, chunks, completions, error objects. */

const ImagePart = z
  .object({ type: z.literal('image_url'), image_url: z.object({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }).strict() })
  .strict();
/** Content parts: each is checked, and others (audio, files, refusals) refused, by name in toMessages. */
const ContentSchema = z.union([z.string(), z.array(z.object({ type: z.string() }).loose()), z.null()]);

const ToolCallWire = z
  .object({ id: z.string().min(1), type: z.literal('function'), function: z.object({ name: z.string().min(1), arguments: z.string() }).strict() })
  .strict();

const MessageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool'], { error: 'role must be one of system, developer, user, assistant, tool' }),
    content: ContentSchema.optional(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCallWire).nullish(),
    tool_call_id: z.string().min(1).optional(),
    refusal: z.string().nullish(),
    // Earlier reasoning (OpenWebUI, llama.cpp send it back): models are not shown their old reasoning.
    reasoning_content: z.string().nullish(),
    reasoning_details: z.unknown().optional(),
    thinking: z.string().nullish(),
  })
  .strict();

const FunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, underscores or dashes');
const ToolWire = z
  .object({
    type: z.literal('function', { error: 'only function tools are supported' }),
    function: z
      .object({ name: FunctionName, description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() })
      .strict(),
  })
  .strict();

const ResponseFormat = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text') }).strict(),
    z.object({ type: z.literal('json_object') }).strict(),
    z
      .object({
        type: z.literal('json_schema'),
        json_schema: z
          .object({ name: FunctionName, description: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() })
          .strict(),
      })
      .strict(),
  ],
  { error: 'type must be one of text, json_object, json_schema' },
);

/** Accepted only with the value that changes nothing; anything else is a 400 naming it. */
const only = <T extends z.ZodType>(schema: T, ok: (v: z.infer<T>) => boolean, why: string) => schema.nullish().refine((v) => v == null || ok(v as z.infer<T>), why);

/**
 * Every chat-completions parameter aiproc accepts — an allow-list: an unknown field, or one in
 * REFUSED, is a 400 naming it. What OpenWebUI 0.12.4 and the `openai` clients send fits.
 */
export const ChatCompletionRequestSchema = z
  .object({
    model: z.string({ error: 'model is required and must be a string' }).min(1, 'model must not be empty'),
    messages: z.array(MessageSchema, { error: 'messages must be an array of messages' }).min(1, 'messages must not be empty'),
    stream: z.boolean().nullish().transform((v) => v ?? false),
    // include_obfuscation pads chunks against length side channels; aiproc sends no padding either way.
    stream_options: z.object({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).strict().nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    top_k: z.number().int().min(0).nullish(),
    min_p: z.number().min(0).max(1).nullish(),
    stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish(),
    seed: z.number().int().nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    repeat_penalty: z.number().min(0).nullish(),
    repeat_last_n: z.number().int().min(-1).nullish(),
    response_format: ResponseFormat.nullish(),
    tools: z.array(ToolWire).nullish(),
    tool_choice: z
      .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }).strict() }).strict()], {
        error: 'tool_choice must be none, auto, required or {"type":"function","function":{"name":…}}',
      })
      .nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    user: z.string().nullish(),
    n: only(z.number().int(), (v) => v === 1, 'only one choice per request is supported (n must be 1)'),
    logprobs: only(z.boolean(), (v) => v === false, 'log probabilities are not supported'),
    top_logprobs: only(z.number().int(), (v) => v === 0, 'log probabilities are not supported'),
    logit_bias: only(z.record(z.string(), z.number()), (v) => Object.keys(v).length === 0, 'logit bias is not supported'),
    store: only(z.boolean(), (v) => v === false, 'stored completions are not supported'),
    service_tier: only(z.string(), (v) => v === 'auto' || v === 'default', 'only the default service tier exists'),
    modalities: only(z.array(z.string()), (v) => v.every((m) => m === 'text'), 'only text output is supported'),
  })
  .strict();

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

/** What a request asks of the model beyond its messages, in our terms. */
export interface RequestOptions {
  maxTokens?: number;
  sampling: Sampling;
  format?: OutputFormat;
  tools?: Tool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  /** Some message carries images: only a vision model can answer. */
  images: boolean;
}

const pathOf = (path: readonly PropertyKey[]) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || null;

/**
 * Validates a chat completion body; the error names the field (`messages[0].content`, `n`).
 * @example const { req, messages, options } = parseChatRequest(await c.req.json())
 */
export function parseChatRequest(body: unknown): { req: ChatCompletionRequest; messages: ChatMessage[]; options: RequestOptions } {
  requireWellFormed(body);
  const r = ChatCompletionRequestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const where = pathOf(issue.path);
      if (where === null) throw new BadInputError(refusal(key), { param: key });
      throw new BadInputError(`${where}.${key}: unknown field`, { param: `${where}.${key}` });
    }
    const param = pathOf(issue.path);
    throw new BadInputError(`${param ?? 'body'}: ${issue.message}`, { param });
  }
  const req = r.data;
  const messages = toMessages(req);
  if (!messages.some((m) => m.role === 'user' && (m.content.trim() !== '' || m.images?.length)))
    throw new BadInputError('messages: at least one user message with text is needed', { param: 'messages' });
  return { req, messages, options: toOptions(req, messages) };
}

function toMessages(req: ChatCompletionRequest): ChatMessage[] {
  const calls = new Set<string>();
  return req.messages.map((m, i): ChatMessage => {
    const at = `messages[${i}]`;
    const content = m.content ?? null;
    let text = '';
    const images: string[] = [];
    if (typeof content === 'string') text = content;
    else if (content) {
      content.forEach((p, j) => {
        if (p.type === 'text') {
          const t = (p as { text?: unknown }).text;
          if (typeof t !== 'string') throw new BadInputError(`${at}.content[${j}].text: a text part's text must be a string`, { param: `${at}.content[${j}].text` });
          text += t;
        }
        else if (p.type === 'image_url' && m.role === 'user') images.push(imageData(p, `${at}.content[${j}]`));
        else throw new BadInputError(`${at}.content[${j}]: "${p.type}" parts are not supported${p.type === 'image_url' ? ' outside user messages' : ''}; send text${m.role === 'user' ? ' or image_url' : ''}`, { param: `${at}.content[${j}].type` });
      });
    }
    const msg: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content: text };
    if (images.length) msg.images = images;
    if (m.role !== 'assistant' && m.tool_calls?.length) throw new BadInputError(`${at}.tool_calls: only assistant messages carry tool calls`, { param: `${at}.tool_calls` });
    if (m.tool_calls?.length) {
      msg.toolCalls = m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
      for (const c of m.tool_calls) calls.add(c.id);
    }
    if (m.role === 'tool') {
      if (!m.tool_call_id) throw new BadInputError(`${at}.tool_call_id: a tool message needs the id of the call it answers`, { param: `${at}.tool_call_id` });
      if (!calls.has(m.tool_call_id))
        throw new BadInputError(`${at}.tool_call_id: no earlier assistant message made a tool call with id "${m.tool_call_id}"`, { param: `${at}.tool_call_id` });
      msg.toolCallId = m.tool_call_id;
    } else if (m.tool_call_id) throw new BadInputError(`${at}.tool_call_id: only tool messages answer a call`, { param: `${at}.tool_call_id` });
    return msg;
  });
}

/** An image part's URL as the base64 Ollama takes: a data: URL; remote URLs would need fetching on the server. */
function imageData(part: unknown, at: string): string {
  const r = ImagePart.safeParse(part);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = `${at}${pathOf(issue.path)?.replace(/^(?!\[)/, '.') ?? ''}`;
    throw new BadInputError(`${param}: ${issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message}`, { param });
  }
  const param = `${at}.image_url.url`;
  const m = /^data:image\/[\w.+-]+;base64,(.+)$/s.exec(r.data.image_url.url);
  if (!m) throw new BadInputError(`${param}: only data: URLs with base64 images are supported (aiproc does not fetch remote images)`, { param });
  return m[1]!;
}

function toOptions(req: ChatCompletionRequest, messages: ChatMessage[]): RequestOptions {
  const def = <K extends string, V>(k: K, v: V | null | undefined): Partial<Record<K, V>> => (v == null ? {} : ({ [k]: v } as Record<K, V>));
  const sampling: Sampling = {
    ...def('temperature', req.temperature),
    ...def('topP', req.top_p),
    ...def('topK', req.top_k),
    ...def('minP', req.min_p),
    ...def('stop', typeof req.stop === 'string' ? [req.stop] : req.stop),
    ...def('seed', req.seed),
    ...def('presencePenalty', req.presence_penalty),
    ...def('frequencyPenalty', req.frequency_penalty),
    ...def('repeatPenalty', req.repeat_penalty),
    ...def('repeatLastN', req.repeat_last_n),
  };
  const tools = req.tools?.length
    ? req.tools.map((t) => ({ name: t.function.name, ...def('description', t.function.description), ...def('parameters', t.function.parameters) }))
    : undefined;
  const choice = req.tool_choice;
  const toolChoice: ToolChoice | undefined = choice == null ? undefined : typeof choice === 'string' ? choice : { name: choice.function.name };
  if (toolChoice !== undefined && toolChoice !== 'none' && !tools)
    throw new BadInputError(`tool_choice: "${typeof toolChoice === 'string' ? toolChoice : toolChoice.name}" needs tools, and the request has none`, { param: 'tool_choice' });
  if (typeof toolChoice === 'object' && !tools!.some((t) => t.name === toolChoice.name))
    throw new BadInputError(`tool_choice: no tool named "${toolChoice.name}" in tools (${tools!.map((t) => t.name).join(', ')})`, { param: 'tool_choice' });
  return {
    ...def('maxTokens', req.max_completion_tokens ?? req.max_tokens),
    sampling,
    ...def('format', outputFormat(req.response_format)),
    ...def('tools', tools),
    ...def('toolChoice', toolChoice),
    ...def('parallelToolCalls', req.parallel_tool_calls),
    images: messages.some((m) => m.images?.length),
  };
}

function outputFormat(rf: ChatCompletionRequest['response_format']): OutputFormat | undefined {
  if (!rf || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return 'json';
  const schema = rf.json_schema.schema ?? { type: 'object' };
  const problem = schemaProblem(schema);
  if (problem) throw new BadInputError(`response_format.json_schema.schema: not a valid JSON schema: ${problem}`, { param: 'response_format.json_schema.schema' });
  return schema;
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

/** Tool calls in OpenAI's wire shape (`index` for stream deltas). */
export function wireToolCalls(calls: ToolCall[], first = 0) {
  return calls.map((c, i) => ({ index: first + i, id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
}

/** A whole `chat.completion`; with tool calls, `finish_reason` is `tool_calls` (and content null when the model wrote none). */
export function completion(id: string, model: string, content: string, usage: Usage, reasoning?: string, toolCalls: ToolCall[] = []) {
  const calls = toolCalls.length ? { tool_calls: wireToolCalls(toolCalls).map(({ index: _, ...c }) => c) } : {};
  return {
    id,
    object: 'chat.completion',
    created: created(),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: toolCalls.length && !content ? null : content, ...calls, ...(reasoning && { reasoning_content: reasoning }) },
        finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
      },
    ],
    usage: toOpenAIUsage(usage),
  };
}

export function toOpenAIUsage(u: Usage) {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

/** The OpenAI error object for any thrown value. */
export function errorBody(err: unknown): { error: { message: string; type: string; param: string | null; code: string | null } } {
  if (err instanceof AiprocError) {
    const type = err.status === 401 ? 'authentication_error' : err.status === 403 ? 'permission_error' : err.status === 429 ? 'rate_limit_error' : err.status >= 500 ? 'server_error' : 'invalid_request_error';
    return { error: { message: err.status >= 500 ? publicMessage(err.message) : err.message, type, param: err.param, code: err.code } };
  }
  // The details of an unexpected error go to the log, not to the client.
  return { error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' } };
}
