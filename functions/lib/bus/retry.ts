import pRetry, { AbortError } from 'p-retry';
import { CancelledError, RetryLaterError, isRetryable } from '../errors.ts';

/** Extra tries for RetryLaterError (store unreachable, lease held): with the default delays, about 90 s more. */
export const EXTRA_RETRY_LATER_ATTEMPTS = 6;

/**
 * Runs one delivery with the queue semantics shared by every transport: retryable errors
 * (isRetryable: 429/502/503/504) are tried again with exponential back-off, up to `attempts`, or
 * `attempts + EXTRA_RETRY_LATER_ATTEMPTS` for RetryLaterError: a store or lease briefly away gets
 * longer than a failing model, since giving up then loses a result that would be fine a minute
 * later. Anything else, or the last failure, is thrown to the caller, who dead-letters it.
 * @example await deliverWithRetries((attempt) => handler(ev, attempt), { attempts: 3, minDelayMs: 500, signal })
 */
export async function deliverWithRetries(
  run: (attempt: number) => Promise<void>,
  opts: { attempts: number; minDelayMs: number; signal?: AbortSignal; onRetry?: (err: unknown, attempt: number) => void },
): Promise<void> {
  const budget = (error: unknown) => opts.attempts + (error instanceof RetryLaterError ? EXTRA_RETRY_LATER_ATTEMPTS : 0);
  const willRetry = (error: unknown, attempt: number) => !opts.signal?.aborted && isRetryable(error) && attempt < budget(error);
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
      shouldRetry: ({ error, attemptNumber }) => willRetry(error, attemptNumber),
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (willRetry(error, attemptNumber)) opts.onRetry?.(error, attemptNumber);
      },
      ...(opts.signal && { signal: opts.signal }),
    },
  );
}
