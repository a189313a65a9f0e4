import type { Sampling } from '../events/schemas.ts';

/**
 * The sampling settings as node-llama-cpp's generateResponse options. Its presence and frequency
 * penalties run 0..1 and punish only repeats (OpenAI's run -2..2, negative favouring them):
 * a positive OpenAI value is halved, a negative one (favouring repeats) has no counterpart there
 * and counts as 0 (README says so).
 * @example llamaSampling({ topP: 0.9, stop: ['END'] }) // { topP: 0.9, customStopTriggers: ['END'] }
 */
export function llamaSampling(s: Sampling) {
  const penalty = s.repeatPenalty !== undefined || s.presencePenalty !== undefined || s.frequencyPenalty !== undefined || s.repeatLastN !== undefined;
  const scale = (v: number | undefined) => (v === undefined ? undefined : Math.min(1, Math.max(0, v / 2)));
  return {
    ...(s.temperature !== undefined && { temperature: s.temperature }),
    ...(s.topP !== undefined && { topP: s.topP }),
    ...(s.topK !== undefined && { topK: s.topK }),
    ...(s.minP !== undefined && { minP: s.minP }),
    ...(s.seed !== undefined && { seed: s.seed }),
    ...(s.stop?.length && { customStopTriggers: s.stop }),
    ...(penalty && {
      repeatPenalty: {
        ...(s.repeatPenalty !== undefined && { penalty: s.repeatPenalty }),
        ...(s.presencePenalty !== undefined && { presencePenalty: scale(s.presencePenalty)! }),
        ...(s.frequencyPenalty !== undefined && { frequencyPenalty: scale(s.frequencyPenalty)! }),
        ...(s.repeatLastN !== undefined && s.repeatLastN >= 0 && { lastTokens: s.repeatLastN }),
      },
    }),
  };
}
