import { basename } from 'node:path';
import { LlamaChat, resolveChatWrapper, type ChatHistoryItem, type LlamaContextSequence, type LlamaGrammar } from 'node-llama-cpp';
import type { ChatMessage, OutputFormat } from '../events/schemas.ts';
import { BadInputError, CancelledError, UpstreamError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { loadLlamaModel, type Loaded, type LoadOptions } from './llama-load.ts';
import { Pool } from './llama-pool.ts';
import { llamaSampling } from './llama-sampling.ts';
import type { Capability } from './capabilities.ts';
import type { ChatRequest, ChatResult, ModelClient } from './types.ts';

export type LlamaCppOptions = Omit<LoadOptions, 'contextSize' | 'sequences'> & {
  /** Tokens per sequence (prompt + answer). @default 4096 */
  contextSize?: number;
  /** Chats generated at once; more wait in a queue. @default 4 */
  sequences?: number;
};

/** Our messages as node-llama-cpp's chat history, ending in the (empty) answer to write. */
function toHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'system'
      ? { type: 'system', text: m.content }
      : m.role === 'user'
        ? { type: 'user', text: m.content }
        : m.role === 'tool'
          ? { type: 'user', text: `Tool result${m.toolCallId ? ` (${m.toolCallId})` : ''}:\n${m.content}` }
          : { type: 'model', response: [m.content] },
  );
  history.push({ type: 'model', response: [] });
  return history;
}

/**
 * node-llama-cpp's grammar takes a subset of JSON Schema: `oneOf` where zod writes `anyOf`,
 * and no `$schema`. Everything it does not know it ignores. It makes every listed property
 * required, so the optional ones (not in `required`) are left out: a small model is not made
 * to fill in fields it may skip.
 */
export function toGrammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGrammarSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const required = (schema as { required?: unknown }).required;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === '$id') continue;
    if (key === 'properties' && Array.isArray(required) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).filter(([name]) => required.includes(name)).map(([name, v]) => [name, toGrammarSchema(v)]));
      continue;
    }
    out[key === 'anyOf' ? 'oneOf' : key] = toGrammarSchema(value);
  }
  return out;
}

/**
 * The same grammar without line breaks and indentation between JSON tokens: a small model that
 * pretty-prints spends a third of its tokens on whitespace. Rewrites node-llama-cpp's
 * whitespace rules by name; when they are not found (another version), the grammar is unchanged.
 */
export function compactJsonGrammar(gbnf: string): string {
  return gbnf
    .replace(/^(comma-whitespace-[\w-]+-rule) ::= .*$/gm, '$1 ::= "," [ ]?')
    .replace(/^(whitespace-[\w-]+-rule) ::= .*$/gm, '$1 ::= [ ]?');
}

function doneReasonOf(stopReason: string): string {
  return stopReason === 'maxTokens' ? 'length' : stopReason === 'abort' ? 'cancelled' : 'stop';
}

/**
 * The embedded engine: one GGUF model loaded once in this process, serving many chats at once
 * through one context with N sequences (a queue beyond that). Streams text, reports token counts
 * and durations, holds output to a JSON schema with a grammar, stops when the signal aborts.
 * @example
 * const client = await LlamaCppClient.load({ modelPath: 'model.gguf', sequences: 4, log })
 * const { content } = await client.chat({ model: '', messages: [{ role: 'user', content: 'Hi' }] })
 */
export class LlamaCppClient implements ModelClient {
  readonly backend = 'embedded' as const;
  readonly modelPath: string;
  readonly #loaded: Loaded;
  /** One sequence per chat at once, each with its LlamaChat (making one costs ~0.3 s: reuse it). */
  readonly #pool: Pool<{ sequence: LlamaContextSequence; chat: LlamaChat }>;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #log: Logger;
  #closed = false;

  private constructor(modelPath: string, loaded: Loaded, log: Logger) {
    this.modelPath = modelPath;
    this.#loaded = loaded;
    this.#log = log;
    const chatWrapper = resolveChatWrapper(loaded.model); // the model's chat template, read once
    const slots = [];
    for (let i = 0; i < loaded.context.totalSequences; i++) {
      const sequence = loaded.context.getSequence();
      slots.push({ sequence, chat: new LlamaChat({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false }) });
    }
    this.#pool = new Pool(slots);
  }

  /** Loads the model; a missing, corrupt, unsupported or too large file is a ConfigError naming it. */
  static async load(opts: LlamaCppOptions): Promise<LlamaCppClient> {
    const loaded = await loadLlamaModel({ ...opts, contextSize: opts.contextSize ?? 4096, sequences: opts.sequences ?? 4 });
    return new LlamaCppClient(opts.modelPath, loaded, opts.log);
  }

  /** Chats that can be generated at the same time (the context's sequences). */
  get concurrency(): number {
    return this.#pool.size;
  }

  describe(): string {
    const { llama, context } = this.#loaded;
    const device = llama.gpu === false ? 'cpu' : llama.gpu;
    const chats = this.#pool.size === 1 ? 'one chat at a time' : `${this.#pool.size} chats at once`;
    return `embedded llama.cpp (${device}) with ${basename(this.modelPath)}, ${chats}, ${context.contextSize} tokens each`;
  }

  /** The embedded engine holds any model to JSON with a grammar; it runs no tools and sees no images. */
  async capabilities(): Promise<Capability[]> {
    return ['json'];
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    if (this.#closed) throw new UpstreamError('the embedded model is closed');
    const grammar = req.format ? await this.#grammarFor(req.format) : undefined;
    const slot = await this.#pool.acquire(req.signal);
    const { sequence, chat } = slot;
    const started = performance.now();
    let firstTokenAt: number | undefined;
    let completionTokens = 0;
    try {
      const history = toHistory(req.messages);
      const promptTokens = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.#loaded.model.tokenizer).length;
      // llama.cpp would silently drop the start of a prompt that does not fit (and of one the
      // answer pushes out): refuse the first, and stop the answer where the context ends.
      const room = sequence.contextSize - promptTokens;
      if (room < 1)
        throw new BadInputError(`the prompt is ${promptTokens} tokens, more than the embedded model's context of ${sequence.contextSize} tokens per chat (embedded.contextSize in the models config)`);
      const res = await chat.generateResponse(history, {
        ...(grammar ? { grammar } : {}),
        maxTokens: Math.min(req.maxTokens ?? room, room),
        ...llamaSampling({ ...req.sampling, ...(req.temperature !== undefined && { temperature: req.temperature }) }),
        signal: req.signal,
        onToken: (tokens) => {
          firstTokenAt ??= performance.now();
          completionTokens += tokens.length;
        },
        onTextChunk: req.onText,
      });
      if (req.signal?.aborted) throw new CancelledError();
      const ended = performance.now();
      const promptMs = (firstTokenAt ?? ended) - started;
      return {
        content: res.response,
        usage: { promptTokens, completionTokens },
        durations: { totalMs: ended - started, promptMs, evalMs: ended - started - promptMs },
        doneReason: doneReasonOf(res.metadata.stopReason),
      };
    } catch (err) {
      if (req.signal?.aborted || err instanceof CancelledError) throw new CancelledError();
      if (err instanceof BadInputError) throw err;
      this.#log.warn({ err }, 'embedded model failed');
      throw new UpstreamError(`the embedded model failed: ${(err as Error).message}`, { cause: err });
    } finally {
      this.#pool.release(slot);
    }
  }

  #grammarFor(format: OutputFormat): Promise<LlamaGrammar> {
    const key = JSON.stringify(format);
    let grammar = this.#grammars.get(key);
    if (!grammar) {
      const { llama } = this.#loaded;
      grammar = (format === 'json' ? llama.getGrammarFor('json') : llama
        .createGrammarForJsonSchema(toGrammarSchema(format) as never)
        .then((full) => llama.createGrammar({ grammar: compactJsonGrammar(full.grammar), stopGenerationTriggers: ['\n\n\n\n'], trimWhitespaceSuffix: true })))
        .catch((err: unknown) => {
          this.#grammars.delete(key);
          throw new BadInputError(`the output schema cannot be turned into a grammar: ${(err as Error).message}`, { cause: err });
        });
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.drain(new UpstreamError('the embedded model is closed'));
    await this.#loaded.release();
  }
}
