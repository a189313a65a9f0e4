import type { ChatRequest, ChatResult, ModelClient } from '../models/types.ts';
import type { Telemetry } from './index.ts';

const PROVIDERS: Record<ModelClient['backend'], string> = { ollama: 'ollama', embedded: 'llama.cpp', scripted: 'aiproc.scripted' };

/**
 * A model call as an OpenTelemetry GenAI client span (`chat <model>`): `gen_ai.operation.name`,
 * `gen_ai.provider.name`, `gen_ai.request.model`, the request's limits, `gen_ai.usage.input_tokens`
 * / `output_tokens`, and for streamed calls `gen_ai.response.time_to_first_chunk` (seconds) with a
 * `gen_ai.first_token` event. For the `around` hook of observedModel.
 * @example observedModel(client, { metrics, nameOf, around: genAiSpan(telemetry, client.backend) })
 */
export function genAiSpan(telemetry: Telemetry, backend: ModelClient['backend']) {
  return (req: ChatRequest, call: (onFirstText: () => void) => Promise<ChatResult>): Promise<ChatResult> => {
    const attributes = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': PROVIDERS[backend],
      'gen_ai.request.model': req.model,
      'gen_ai.request.max_tokens': req.maxTokens,
      'gen_ai.request.temperature': req.temperature,
      'gen_ai.output.type': req.format ? 'json' : 'text',
    };
    return telemetry.span(`chat ${req.model}`, { kind: 'client', attributes }, async (span) => {
      const t0 = performance.now();
      const res = await call(() => {
        const s = (performance.now() - t0) / 1000;
        span.set({ 'gen_ai.response.time_to_first_chunk': s });
        span.event('gen_ai.first_token');
      });
      span.set({
        'gen_ai.response.model': req.model,
        'gen_ai.usage.input_tokens': res.usage.promptTokens,
        'gen_ai.usage.output_tokens': res.usage.completionTokens,
        'gen_ai.response.finish_reasons': res.doneReason,
      });
      return res;
    });
  };
}
