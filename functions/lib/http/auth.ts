import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AuthError } from '../errors.ts';

/**
 * Bearer-token auth over a list of accepted keys; with no keys, every request passes (open mode).
 * Keys are checked once here at construction, compared in constant time per request.
 * @example app.use('/v1/*', apiKeyAuth(settings.AIPROC_API_KEYS))
 */
export function apiKeyAuth(keys: string[]): MiddlewareHandler {
  const accepted = keys.map((k) => Buffer.from(k));
  return async function apiKeyAuthMiddleware(c, next) {
    if (accepted.length === 0) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new AuthError('missing API key: send "Authorization: Bearer <key>"');
    const given = Buffer.from(m[1]!.trim());
    if (!accepted.some((k) => k.length === given.length && timingSafeEqual(k, given))) throw new AuthError('invalid API key');
    return next();
  };
}
