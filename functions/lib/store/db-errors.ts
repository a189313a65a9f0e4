import { AiprocError, BadInputError, NotFoundError, RetryLaterError, TooManyRequestsError } from '../errors.ts';

/** Node socket errors and SQLSTATEs that mean "the database is not there right now". */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
]);
/** Lost a race with another transaction: trying again succeeds. */
const CONFLICT = new Set(['40001', '40P01', '55P03']);
/** A limit the database enforces (create_job's AIPROC_MAX_JOBS_PER_KEY): configuration_limit_exceeded. */
const LIMIT = '53400';
/** A job takes seconds to minutes: when to try again after a concurrency limit. */
const LIMIT_RETRY_S = 10;
/** The values can never be stored as given. */
const BAD_INPUT = new Set(['22023', '22P02', '22007', '22008', '23502', '23505', '23514', '22001', '22021']);

const UNREACHABLE_TEXT = /connection terminated|terminating connection|timeout exceeded when trying to connect|not queryable|connection (is )?closed|server closed the connection/i;

function codesOf(err: unknown): string[] {
  if (typeof err !== 'object' || err === null) return [];
  const codes: string[] = [];
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') codes.push(code);
  // net.connect to "localhost" tries ::1 and 127.0.0.1 and throws an AggregateError of both.
  if (err instanceof AggregateError) for (const e of err.errors) codes.push(...codesOf(e));
  return codes;
}

/** Whether a thrown value means the database cannot be reached (rather than refusing the query). */
export function isUnreachable(err: unknown): boolean {
  if (codesOf(err).some((c) => UNREACHABLE.has(c))) return true;
  return err instanceof Error && UNREACHABLE_TEXT.test(err.message);
}

/**
 * Maps a driver error to the store's kinds: unreachable or conflicting → RetryLaterError naming
 * `target` (e.g. "DATABASE_URL (postgres://db:5432/aiproc)"), P0002 → NotFoundError, invalid
 * values → BadInputError, create_job's limit → TooManyRequestsError; anything else is returned
 * unchanged.
 * @example throw toStoreError(err, 'DATABASE_URL (postgres://127.0.0.1:5432/aiproc)')
 */
export function toStoreError(err: unknown, target: string): unknown {
  if (err instanceof AiprocError) return err;
  const codes = codesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (isUnreachable(err)) {
    const why = codes[0] ?? message;
    return new RetryLaterError(`the database at ${target} is unreachable (${why}): ${message || why}`, { cause: err });
  }
  if (codes.some((c) => CONFLICT.has(c))) return new RetryLaterError(`database conflict, try again: ${message}`, { cause: err });
  if (codes.includes('P0002')) return new NotFoundError(message);
  // Only our own refusal (create_job raises it, naming the setting): its text is safe to show.
  if (codes.includes(LIMIT) && /\(AIPROC_MAX_JOBS_PER_KEY\)$/.test(message)) return new TooManyRequestsError(message, LIMIT_RETRY_S);
  // The driver's text (which may quote the value) stays in `cause`, for the logs; the caller learns the kind.
  if (codes.some((c) => BAD_INPUT.has(c))) return new BadInputError(`the database refused a value as given (SQLSTATE ${codes.find((c) => BAD_INPUT.has(c))})`, { cause: err });
  return err;
}
