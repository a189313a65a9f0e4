import type OpenAI from 'openai';
import type { Configuration } from './configs.ts';
import type { Question } from './questions.ts';

/** One answer with what it cost. */
export interface Answer {
  content: string;
  /** Request to the end of the stream. */
  wallMs: number;
  /** Request to the first answer text (progress lines, sent as reasoning, do not count); null when none came. */
  firstTokenMs: number | null;
  promptTokens: number;
  completionTokens: number;
  /** The job id (the completion's id), to look it up with GET /v1/jobs/:id. */
  jobId?: string;
  /** Why there is no answer, when the request failed. */
  error?: string;
}

/**
 * Asks one configuration one question, streamed, measuring wall time, time to the first content
 * token and the tokens the server reports (`stream_options.include_usage`). A failed request is
 * an Answer with `error`, never a throw: one bad question must not end the run.
 * @example const a = await answer(client, { label: 'aiproc', model: 'aiproc', headers: {} }, question, 512)
 */
export async function answer(client: OpenAI, config: Configuration, q: Question, maxTokens?: number): Promise<Answer> {
  const started = performance.now();
  let firstTokenMs: number | null = null;
  let content = '';
  let usage = { prompt_tokens: 0, completion_tokens: 0 };
  let jobId: string | undefined;
  let error: string | undefined;
  try {
    const stream = await client.chat.completions.create(
      {
        model: config.model,
        messages: q.messages,
        stream: true,
        stream_options: { include_usage: true },
        // Marks the eval's jobs in the store (the job's user), apart from people's.
        user: 'aiproc-eval',
        ...(maxTokens !== undefined && { max_tokens: maxTokens }),
      },
      { headers: config.headers },
    );
    for await (const chunk of stream) {
      jobId ??= chunk.id;
      const piece = chunk.choices[0]?.delta?.content ?? '';
      if (piece) {
        firstTokenMs ??= performance.now() - started;
        content += piece;
      }
      if (chunk.usage) usage = chunk.usage;
    }
  } catch (err) {
    error = (err as Error).message;
  }
  return { content, wallMs: performance.now() - started, firstTokenMs, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, ...(jobId && { jobId }), ...(error !== undefined && { error }) };
}
