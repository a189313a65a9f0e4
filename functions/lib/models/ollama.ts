import { randomUUID } from 'node:crypto';
import { Ollama, type AbortableAsyncIterator, type ChatResponse, type Config } from 'ollama';
import { CancelledError, UpstreamError, BadInputError, messageOf } from '../errors.ts';
import type { ToolCall } from '../events/schemas.ts';
import { fromOllamaToolCalls, ollamaMessages, ollamaOptions, ollamaTools } from './ollama-wire.ts';
import type { Capability } from './capabilities.ts';
import type { ChatRequest, ChatResult, ModelClient } from './types.ts';

const ns = (v: number | undefined) => (v === undefined ? undefined : Math.round(v / 1e6));

/**
 * The production model client: Ollama through the `ollama` package, streaming NDJSON.
 * @example const client = new OllamaClient({ host: 'http://127.0.0.1:11434' })
 */
export class OllamaClient implements ModelClient {
  readonly backend = 'ollama' as const;
  readonly #host: string;
  readonly #ollama: Ollama;

  constructor(config: { host: string; fetch?: Config['fetch'] }) {
    this.#host = config.host;
    this.#ollama = new Ollama({ host: config.host, ...(config.fetch && { fetch: config.fetch }) });
  }

  /**
   * The names of the models an Ollama has, or null when nothing answers at `host` in time.
   * @example if (await OllamaClient.probe(host, 1500)) { … }
   */
  static async probe(host: string, timeoutMs = 1500): Promise<string[] | null> {
    try {
      const res = await fetch(new URL('/api/tags', host), { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return null;
      const body = (await res.json()) as { models?: { name?: string; model?: string }[] };
      return (body.models ?? []).map((m) => m.name ?? m.model ?? '').filter(Boolean);
    } catch {
      return null;
    }
  }

  describe(): string {
    return `ollama at ${this.#host}`;
  }

  /** The model's capabilities as Ollama reports them (/api/show), in our words; undefined when it reports none. */
  async capabilities(model: string): Promise<Capability[] | undefined> {
    const show = await this.#ollama.show({ model });
    if (!Array.isArray(show.capabilities)) return undefined;
    const caps: Capability[] = ['json'];
    if (show.capabilities.includes('tools')) caps.push('tools');
    if (show.capabilities.includes('vision')) caps.push('vision');
    return caps;
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    if (req.signal?.aborted) throw new CancelledError();
    const started = performance.now();
    let stream: AbortableAsyncIterator<ChatResponse>;
    try {
      const tools = ollamaTools(req.tools, req.toolChoice);
      stream = await this.#ollama.chat({
        model: req.model,
        messages: ollamaMessages(req.messages),
        stream: true,
        ...(req.format && { format: req.format }),
        ...(tools && { tools }),
        options: ollamaOptions({ ...req.sampling, ...(req.temperature !== undefined && { temperature: req.temperature }) }, req.maxTokens),
      });
    } catch (err) {
      throw this.#wrap(err, req.model);
    }
    const onAbort = () => stream.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // Cancelled while waiting for the response to start: the listener above will never fire.
    if (req.signal?.aborted) {
      req.signal.removeEventListener('abort', onAbort);
      stream.abort();
      throw new CancelledError();
    }
    let content = '';
    const toolCalls: ToolCall[] = [];
    let last: ChatResponse | undefined;
    try {
      for await (const chunk of stream) {
        const piece = chunk.message?.content ?? '';
        if (piece) {
          content += piece;
          req.onText?.(piece);
        }
        // Ollama sends each tool call whole, in the chunk where the model finished it.
        if (chunk.message?.tool_calls?.length) toolCalls.push(...fromOllamaToolCalls(chunk.message.tool_calls, (i) => `call_${randomUUID().replaceAll('-', '').slice(0, 24)}${i}`));
        if (chunk.done) last = chunk;
      }
    } catch (err) {
      if (req.signal?.aborted) throw new CancelledError();
      throw this.#wrap(err, req.model);
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
    }
    if (req.signal?.aborted) throw new CancelledError();
    if (!last) throw new UpstreamError(`ollama (OLLAMA_HOST): the stream for ${req.model} ended without a final message`);
    return {
      content,
      ...(toolCalls.length && { toolCalls }),
      usage: { promptTokens: last.prompt_eval_count ?? 0, completionTokens: last.eval_count ?? 0 },
      durations: {
        totalMs: ns(last.total_duration) ?? Math.round(performance.now() - started),
        ...(last.prompt_eval_duration !== undefined && { promptMs: ns(last.prompt_eval_duration) }),
        ...(last.eval_duration !== undefined && { evalMs: ns(last.eval_duration) }),
      },
      ...(last.done_reason && { doneReason: last.done_reason }),
    };
  }

  // Messages name the setting, never the address: they reach job records and clients (the address is in the startup lines).
  #wrap(err: unknown, model: string): Error {
    if (err instanceof Error && err.name === 'AbortError') return new CancelledError();
    const status = (err as { status_code?: number }).status_code;
    if (status === 400) return new BadInputError(`ollama rejected the request for ${model}: ${messageOf(err)}`, { cause: err });
    if (status === 404) return new UpstreamError(`ollama (OLLAMA_HOST) has no model ${model} (run: ollama pull ${model}): ${messageOf(err)}`, { cause: err });
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED' || messageOf(err).includes('fetch failed'))
      return new UpstreamError(`ollama (OLLAMA_HOST) is not reachable: ${cause?.code ?? 'fetch failed'}`, { cause: err });
    return new UpstreamError(`ollama (OLLAMA_HOST) failed for ${model}: ${messageOf(err)}`, { cause: err });
  }

  async close(): Promise<void> {
    this.#ollama.abort();
  }
}
