import { createHash, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { AuthError, ConfigError } from '../lib/errors.ts';

export interface FeedbackAuthOptions {
  /** Bearer tokens accepted (AIPROC_FEEDBACK_TOKENS). */
  readonly tokens: readonly string[];
  /** Standard Webhooks secrets, `whsec_<base64>` (AIPROC_WEBHOOK_SECRETS); several for rotation. */
  readonly secrets: readonly string[];
  /**
   * Never open, even with no tokens or secrets: API keys are configured, so this is not a
   * laptop's open mode, and an anonymous sender must not rate or propose.
   */
  readonly closed?: boolean;
}

/**
 * Checks one request's sender. `open` when neither tokens nor secrets are configured: every
 * sender is accepted (the embedded default on a laptop); the lead prints `warning` at start.
 */
export interface FeedbackAuth {
  readonly open: boolean;
  /** A line to print at start when the endpoint is open, else null. */
  readonly warning: string | null;
  /** Throws AuthError (401) with the reason, unless the request carries a valid token or signature. */
  check(headers: Headers, rawBody: string): void;
  /**
   * Whether the request carries a credential of a kind this accepts (a bearer token with tokens
   * configured, a webhook signature with secrets): what `check` will then decide.
   */
  claims(headers: Headers): boolean;
}

/** How far a Standard Webhooks timestamp may be from now; fixed by the `standardwebhooks` library. */
export const WEBHOOK_TOLERANCE_S = 5 * 60;

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Builds the check once, at start: a malformed secret fails here (ConfigError), not per request.
 * Tokens are compared in constant time (over their hashes, so length leaks nothing);
 * signatures are HMAC-SHA256 over `id.timestamp.body` (Standard Webhooks), any secret matching.
 * @example const auth = createFeedbackAuth({ tokens: settings.AIPROC_FEEDBACK_TOKENS, secrets: settings.AIPROC_WEBHOOK_SECRETS })
 */
export function createFeedbackAuth(options: FeedbackAuthOptions): FeedbackAuth {
  const tokens = options.tokens.map(digest);
  const hooks = options.secrets.map((secret, i) => {
    try {
      return new Webhook(secret);
    } catch (err) {
      throw new ConfigError(`AIPROC_WEBHOOK_SECRETS: secret #${i + 1} is not a Standard Webhooks secret (whsec_ followed by base64): ${(err as Error).message}`);
    }
  });
  const open = tokens.length === 0 && hooks.length === 0 && !options.closed;
  const warning = open
    ? 'the feedback endpoint accepts events from anyone: set AIPROC_FEEDBACK_TOKENS or AIPROC_WEBHOOK_SECRETS to require a sender to authenticate'
    : null;

  function checkBearer(value: string): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(value.trim());
    if (!m?.[1]) return false;
    const got = digest(m[1].trim());
    // Compare against every token so the time taken does not say which one nearly matched.
    let ok = false;
    for (const t of tokens) ok = timingSafeEqual(t, got) || ok;
    return ok;
  }

  function checkSignature(headers: Headers, rawBody: string): void {
    const wh = {
      'webhook-id': headers.get('webhook-id') ?? '',
      'webhook-timestamp': headers.get('webhook-timestamp') ?? '',
      'webhook-signature': headers.get('webhook-signature') ?? '',
    };
    if (!wh['webhook-id'] || !wh['webhook-timestamp']) throw new AuthError('webhook-signature needs webhook-id and webhook-timestamp headers');
    const ts = Number(wh['webhook-timestamp']);
    if (!Number.isInteger(ts)) throw new AuthError('webhook-timestamp must be whole seconds since 1970');
    // Said here, not left to the library, so a stale request gets its own reason.
    if (Math.abs(Date.now() / 1000 - ts) > WEBHOOK_TOLERANCE_S) {
      throw new AuthError(`webhook-timestamp is more than ${WEBHOOK_TOLERANCE_S} seconds from now: a stale or replayed request`);
    }
    for (const hook of hooks) {
      try {
        hook.verify(rawBody, wh, { jsonParse: false });
        return;
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
      }
    }
    throw new AuthError('webhook-signature does not match the body with any configured secret');
  }

  return {
    open,
    warning,
    claims: (headers) => (tokens.length > 0 && headers.has('authorization')) || (hooks.length > 0 && headers.has('webhook-signature')),
    check(headers, rawBody) {
      if (open) return;
      if (tokens.length === 0 && hooks.length === 0) {
        throw new AuthError('the feedback endpoint takes no anonymous events while API keys are configured: set AIPROC_FEEDBACK_TOKENS or AIPROC_WEBHOOK_SECRETS');
      }
      const authorization = headers.get('authorization');
      const signed = headers.has('webhook-signature');
      if (authorization && tokens.length > 0) {
        if (checkBearer(authorization)) return;
        if (!signed || hooks.length === 0) throw new AuthError('the bearer token is not one of AIPROC_FEEDBACK_TOKENS');
      }
      if (signed && hooks.length > 0) return checkSignature(headers, rawBody);
      const accepted = [tokens.length > 0 && 'Authorization: Bearer <token>', hooks.length > 0 && 'a Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature)'];
      throw new AuthError(`unauthenticated: send ${accepted.filter(Boolean).join(' or ')}`);
    },
  };
}
