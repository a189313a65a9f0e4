import pRetry, { AbortError } from 'p-retry';
import { CancelledError, isRetryable } from '../errors.ts';

/**
 * Runs one delivery with the queue semantics shared by every transport: retryable errors
 * (isRetryable: 429/502/503/504) are tried again with exponential back-off up to `attempts`;
 * anything else, or the last failure, is thrown to the caller, who dead-letters it.
 * @example await deliverWithRetries((attempt) => handler(ev, attempt), { attempts: 3, minDelayMs: 500, signal })
 */
export async function deliverWithRetries(
  run: (attempt: number) => Promise<void>,
  opts: { attempts: number; minDelayMs: number; signal?: AbortSignal; onRetry?: (err: unknown, attempt: number) => void },
): Promise<void> {
  await pRetry(
    async (attempt) => {
      if (opts.signal?.aborted) throw new AbortError(new CancelledError());
      try {
        await run(attempt);
      } catch (err) {
        // p-retry only handles Error instances; anything else is a bug we dead-letter at once.
        if (!(err instanceof Error)) throw new AbortError(String(err));
        throw err;
      }
    },
    {
      retries: Math.max(0, opts.attempts - 1),
      minTimeout: opts.minDelayMs,
      maxTimeout: Math.max(opts.minDelayMs, 30_000),
      factor: 2,
      randomize: true,
      shouldRetry: ({ error }) => !opts.signal?.aborted && isRetryable(error),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0 && isRetryable(error)) opts.onRetry?.(error, attemptNumber);
      },
      ...(opts.signal && { signal: opts.signal }),
    },
  );
}
