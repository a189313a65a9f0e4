import type { ChatRequest, ChatResult, ModelClient } from '../models/types.ts';
import type { Metrics } from './index.ts';

export interface ObservedModelOptions {
  metrics: Metrics;
  /** The name metrics use for a backend model name (an Ollama tag becomes its slug). */
  nameOf: (model: string) => string;
  /** Wraps each call (tracing adds its span here); default: runs it. */
  around?: (req: ChatRequest, call: (onFirstText: () => void) => Promise<ChatResult>) => Promise<ChatResult>;
}

/**
 * The model client with every call measured: duration, time to first token (streamed calls),
 * tokens in and out, output tokens per second. Everything else passes through.
 * @example ctx.model = observedModel(client, { metrics, nameOf: (tag) => slugOf(config, tag) })
 */
export function observedModel(inner: ModelClient, opts: ObservedModelOptions): ModelClient {
  const { metrics, nameOf } = opts;
  const measured = async (req: ChatRequest, onFirstText: () => void): Promise<ChatResult> => {
    const model = nameOf(req.model);
    const t0 = performance.now();
    let ttftS: number | undefined;
    const onText = req.onText;
    const wrapped: ChatRequest = onText
      ? {
          ...req,
          onText: (t) => {
            if (ttftS === undefined) {
              ttftS = (performance.now() - t0) / 1000;
              onFirstText();
            }
            onText(t);
          },
        }
      : req;
    try {
      const res = await inner.chat(wrapped);
      const durationS = (performance.now() - t0) / 1000;
      metrics.modelCall({
        model,
        outcome: 'ok',
        durationS,
        usage: res.usage,
        ...(ttftS !== undefined && { ttftS }),
        ...(res.durations.evalMs && { generationS: res.durations.evalMs / 1000 }),
      });
      return res;
    } catch (err) {
      metrics.modelCall({ model, outcome: 'error', durationS: (performance.now() - t0) / 1000, ...(ttftS !== undefined && { ttftS }) });
      throw err;
    }
  };
  const chat = opts.around ? (req: ChatRequest) => opts.around!(req, (first) => measured(req, first)) : (req: ChatRequest) => measured(req, () => {});
  return {
    backend: inner.backend,
    get concurrency() {
      return inner.concurrency;
    },
    describe: () => inner.describe(),
    chat,
    ...(inner.capabilities && { capabilities: (model: string) => inner.capabilities!(model) }),
    close: () => inner.close(),
  };
}
