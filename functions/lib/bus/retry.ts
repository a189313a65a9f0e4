import pRetry, { AbortError } from 'p-retry';
import { CancelledError, RetryLaterError, isRetryable } from '../errors.ts';

/** Extra tries for RetryLaterError (store unreachable, lease held): with the default delays, about 90 s more. */
export const EXTRA_RETRY_LATER_ATTEMPTS = 6;

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
      retries: Math.max(0, opts.attempts - 1 + EXTRA_RETRY_LATER_ATTEMPTS),
      minTimeout: opts.minDelayMs,
      maxTimeout: Math.max(opts.minDelayMs, 30_000),
      factor: 2,
      randomize: true,
      // A failing model gets `attempts`; a store or lease that is briefly away gets more, since
      // giving up then loses a result that would have been fine a minute later.
      shouldRetry: ({ error, attemptNumber }) =>
        !opts.signal?.aborted && isRetryable(error) && (attemptNumber < opts.attempts || (error instanceof RetryLaterError && attemptNumber < opts.attempts + EXTRA_RETRY_LATER_ATTEMPTS)),
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (isRetryable(error) && (attemptNumber < opts.attempts || error instanceof RetryLaterError)) opts.onRetry?.(error, attemptNumber);
      },
      ...(opts.signal && { signal: opts.signal }),
    },
  );
}
