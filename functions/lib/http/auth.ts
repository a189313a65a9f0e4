import type { Context, MiddlewareHandler } from 'hono';
import { apiPrincipals, keyDigest, LOCAL_PRINCIPAL, type Principal, type Role } from '../auth/principal.ts';
import { AuthError, ConfigError, ForbiddenError } from '../errors.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `principalAuth` on every request it lets through. */
    principal: Principal;
  }
}

/** The header a gateway names its end user with (OpenWebUI's ENABLE_FORWARD_USER_INFO_HEADERS). */
export const ASSERTED_USER_HEADER = 'x-openwebui-user-id';

export interface KeySettings {
  AIPROC_API_KEYS: string[];
  AIPROC_GATEWAY_KEYS: string[];
  AIPROC_ADMIN_KEYS: string[];
}

/**
 * Bearer-key auth that sets `c.get('principal')`: user, gateway or admin by the list the key is in
 * (`AIPROC_API_KEYS`, `AIPROC_GATEWAY_KEYS`, `AIPROC_ADMIN_KEYS`). With no keys at all, every
 * caller is the local administrator (open mode). Only a gateway's (or the open mode's)
 * `X-OpenWebUI-User-Id` is taken as the end user. Keys are parsed once here; a request's key is
 * looked up by its SHA-256, so neither timing nor logs reveal a key.
 * @example app.use('/v1/*', principalAuth(settings))
 */
export function principalAuth(settings: KeySettings): MiddlewareHandler {
  const keys = apiPrincipals(settings);
  return async function principalAuthMiddleware(c, next) {
    const asserted = c.req.header(ASSERTED_USER_HEADER)?.trim() || undefined;
    if (keys.size === 0) {
      c.set('principal', asserted ? { ...LOCAL_PRINCIPAL, user: asserted } : LOCAL_PRINCIPAL);
      return next();
    }
    const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
    if (!m) throw new AuthError('missing API key: send "Authorization: Bearer <key>"');
    const p = keys.get(keyDigest(m[1]!.trim()));
    if (!p) throw new AuthError('invalid API key');
    c.set('principal', p.role === 'gateway' && asserted ? { ...p, user: asserted } : p);
    return next();
  };
}

/**
 * The caller's principal when it has one of `roles`, else ForbiddenError (403).
 * @example const admin = requireRole(c, 'admin')
 */
export function requireRole(c: Context, ...roles: Role[]): Principal {
  const p = c.get('principal');
  if (!p) throw new AuthError('not authenticated');
  if (!roles.includes(p.role)) throw new ForbiddenError(`this needs the ${roles.join(' or ')} role; your key (${p.name}) is ${p.role}`);
  return p;
}

/**
 * Middleware form of `requireRole`, for a whole mount.
 * @example app.use('/v1/rules/*', allowRoles('admin'))
 */
export function allowRoles(...roles: Role[]): MiddlewareHandler {
  return async function allowRolesMiddleware(c, next) {
    requireRole(c, ...roles);
    return next();
  };
}

/** Whether HOST is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * Refuses, before listening, to serve the API without keys on an address others can reach:
 * with no keys every caller is an administrator. `AIPROC_ALLOW_OPEN=true` says it is meant.
 * @example assertSafeBind(settings) // throws ConfigError for HOST=0.0.0.0 and no keys
 */
export function assertSafeBind(s: KeySettings & { HOST: string; AIPROC_ALLOW_OPEN: boolean }): void {
  if (apiPrincipals(s).size > 0 || isLoopback(s.HOST) || s.AIPROC_ALLOW_OPEN) return;
  throw new ConfigError(
    `HOST=${s.HOST} would serve the API to other machines with no keys, every caller an administrator: ` +
      'set AIPROC_API_KEYS (users), AIPROC_GATEWAY_KEYS (OpenWebUI) or AIPROC_ADMIN_KEYS, listen on 127.0.0.1, or set AIPROC_ALLOW_OPEN=true if that is really meant',
  );
}
