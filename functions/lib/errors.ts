/**
 * One error type per kind, mapped to a status in one place (`statusOf`) for HTTP and queues:
 * 400 = never retry, 503/429 = try again later, 502 = the upstream (model) failed.
 */
export class AiprocError extends Error {
  readonly status: number;
  readonly code: string;
  /** For OpenAI error objects: the request field at fault, when there is one. */
  readonly param: string | null;
  constructor(message: string, status: number, code: string, options?: { cause?: unknown; param?: string | null }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.param = options?.param ?? null;
  }
}

/** The input can never succeed: HTTP 400, dead-letter at once. */
export class BadInputError extends AiprocError {
  constructor(message: string, options?: { cause?: unknown; param?: string | null }) {
    super(message, 400, 'invalid_request_error', options);
    this.name = 'BadInputError';
  }
}

/** Authentication failed: 401. */
export class AuthError extends AiprocError {
  constructor(message = 'missing or invalid API key') {
    super(message, 401, 'invalid_api_key');
    this.name = 'AuthError';
  }
}

/** Authenticated, but the role does not allow it: 403. */
export class ForbiddenError extends AiprocError {
  constructor(message: string) {
    super(message, 403, 'permission_denied');
    this.name = 'ForbiddenError';
  }
}

/** A limit of the caller's is reached (OWASP LLM10): 429 with Retry-After. */
export class TooManyRequestsError extends AiprocError {
  /** Seconds after which trying again may succeed (the Retry-After header). */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 429, 'rate_limit_exceeded');
    this.name = 'TooManyRequestsError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** The thing asked for does not exist: 404 (over queues: never retried by us). */
export class NotFoundError extends AiprocError {
  constructor(message: string) {
    super(message, 404, 'not_found');
    this.name = 'NotFoundError';
  }
}

/** The body is larger than allowed: 413. */
export class TooLargeError extends AiprocError {
  constructor(message: string) {
    super(message, 413, 'request_too_large');
    this.name = 'TooLargeError';
  }
}

/** Temporary: the store is unreachable, the model is busy, a lease is held. HTTP 503, retried. */
export class RetryLaterError extends AiprocError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 503, 'retry_later', options);
    this.name = 'RetryLaterError';
  }
}

/** The model backend failed or answered nonsense. HTTP 502, retried a bounded number of times. */
export class UpstreamError extends AiprocError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 502, 'upstream_error', options);
    this.name = 'UpstreamError';
  }
}

/** Configuration is wrong: the process says which setting and stops (or retries, for connections). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The work was cancelled (client went away). Not an error to report, never retried. */
export class CancelledError extends AiprocError {
  constructor(message = 'cancelled') {
    super(message, 499, 'cancelled');
    this.name = 'CancelledError';
  }
}

/**
 * The HTTP status for any thrown value; unknown errors are 500.
 * @example statusOf(new RetryLaterError('busy')) // 503
 */
export function statusOf(err: unknown): number {
  return err instanceof AiprocError ? err.status : 500;
}

/**
 * Whether a consumer should try again. Mirrors what a function answers Knative's RabbitMQ source:
 * 429/502/503/504 are retried there; anything else (400, 404 of ours, 500) is dead-lettered.
 * Stores and model clients turn connection failures into RetryLaterError/UpstreamError so they land here.
 */
export function isRetryable(err: unknown): boolean {
  return [429, 502, 503, 504].includes(statusOf(err));
}

/** A one-line message for any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A server error's message as a client may see it: addresses inside the deployment (a database
 * URL, a model server) are operators' business, and stay in the logs.
 * @example publicMessage('the database at DATABASE_URL (postgres://db:5432/x) is unreachable') // '… (<internal address>) …'
 */
export function publicMessage(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)'"]+/gi, '<internal address>');
}
