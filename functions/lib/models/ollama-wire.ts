import type { Message, Options, Tool as OllamaTool, ToolCall as OllamaToolCall } from 'ollama';
import type { ChatMessage, Sampling, Tool, ToolCall, ToolChoice } from '../events/schemas.ts';

/**
 * Our chat request in Ollama's terms: sampling as `options`, tools as `tools`, tool calls and
 * results in the messages, images on user messages. One place, so the mapping is seen at once.
 */

/**
 * The sampling settings as Ollama options (`num_predict` for the token budget).
 * @example ollamaOptions({ topP: 0.9, stop: ['END'] }, 200) // { top_p: 0.9, stop: ['END'], num_predict: 200 }
 */
export function ollamaOptions(s: Sampling, maxTokens?: number): Partial<Options> {
  const o: Partial<Options> = {};
  if (maxTokens !== undefined) o.num_predict = maxTokens;
  if (s.temperature !== undefined) o.temperature = s.temperature;
  if (s.topP !== undefined) o.top_p = s.topP;
  if (s.topK !== undefined) o.top_k = s.topK;
  if (s.minP !== undefined) o.min_p = s.minP;
  if (s.stop !== undefined) o.stop = s.stop;
  if (s.seed !== undefined) o.seed = s.seed;
  if (s.presencePenalty !== undefined) o.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== undefined) o.frequency_penalty = s.frequencyPenalty;
  if (s.repeatPenalty !== undefined) o.repeat_penalty = s.repeatPenalty;
  if (s.repeatLastN !== undefined) o.repeat_last_n = s.repeatLastN;
  return o;
}

/** Parses a tool call's JSON arguments; undefined when they are not a JSON object. */
export function parseArguments(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Our messages as Ollama's: tool calls with their arguments as objects, tool results named by
 * the function they answer (Ollama matches results by name, not by call id).
 */
export function ollamaMessages(messages: ChatMessage[]): Message[] {
  const names = new Map<string, string>();
  return messages.map((m) => {
    const out: Message = { role: m.role, content: m.content };
    if (m.images?.length) out.images = m.images;
    if (m.toolCalls?.length) {
      out.tool_calls = m.toolCalls.map((c) => {
        names.set(c.id, c.name);
        return { function: { name: c.name, arguments: parseArguments(c.arguments) ?? {} } };
      });
    }
    if (m.role === 'tool' && m.toolCallId && names.has(m.toolCallId)) out.tool_name = names.get(m.toolCallId)!;
    return out;
  });
}

/**
 * The tools Ollama is given, after tool_choice: `none` gives none, a named function gives only
 * that one (Ollama has no tool_choice of its own; `toolChoiceNote` says the rest in words).
 */
export function ollamaTools(tools: Tool[] | undefined, choice: ToolChoice | undefined): OllamaTool[] | undefined {
  if (!tools?.length || choice === 'none') return undefined;
  const chosen = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools;
  return chosen.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description !== undefined && { description: t.description }), parameters: (t.parameters ?? { type: 'object', properties: {} }) as never },
  }));
}

/** The instruction that stands for `tool_choice: "required"` or a named function, which Ollama cannot enforce. */
export function toolChoiceNote(choice: ToolChoice | undefined): string | undefined {
  if (choice === 'required') return 'You must answer by calling one of the tools.';
  if (typeof choice === 'object') return `You must answer by calling the tool "${choice.name}".`;
  return undefined;
}

/**
 * Ollama's tool calls in our shape: ids made up (Ollama gives none, or gives its own), arguments
 * as the JSON text OpenAI clients expect.
 */
export function fromOllamaToolCalls(calls: OllamaToolCall[], idOf: (i: number) => string): ToolCall[] {
  return calls.map((c, i) => {
    const raw = (c as { id?: unknown }).id;
    const args = c.function.arguments as unknown;
    return {
      id: typeof raw === 'string' && raw ? raw : idOf(i),
      name: c.function.name,
      arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
    };
  });
}
