import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/**
 * Who is calling, and what they may do:
 * - `user`: chat, and read its own jobs;
 * - `gateway`: a trusted front end (OpenWebUI) that may assert its end user; reads the jobs it made
 *   (only that user's when it asserts one);
 * - `admin`: every job, the rules;
 * - `feedback`: a feedback sender (n8n): rates, proposes rules (always inactive).
 */
export type Role = 'user' | 'gateway' | 'admin' | 'feedback';

export interface Principal {
  /** Recorded with every job: `<role>:<name>`, or `local` when no keys are configured. */
  readonly id: string;
  /** The key's name (`name:key` entries), else `key-` and a hash prefix; never the key itself. */
  readonly name: string;
  readonly role: Role;
  /** The end user a gateway asserted (`X-OpenWebUI-User-Id`). Never set from a user or admin key. */
  readonly user?: string;
  /** No keys are configured: every caller is the local administrator (`npm start` on 127.0.0.1). */
  readonly open?: boolean;
}

/** The caller when no keys are configured at all. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ id: 'local', name: 'local', role: 'admin', open: true });

/** Jobs made before principals were recorded carry this id: only an admin sees them. */
export const UNKNOWN_PRINCIPAL = 'unknown';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** A stable name for an unnamed key that does not reveal it: renaming or reordering keys keeps it. */
export const keyDigest = (key: string): string => createHash('sha256').update(key).digest('hex');

/**
 * Key entries of one setting (`key` or `name:key`) as principals by key digest. Several keys may
 * share a name: they are one principal (a user's old and new key while rotating).
 * @example parseKeys(['alice:k1', 'k2'], 'user', 'AIPROC_API_KEYS')
 */
export function parseKeys(entries: readonly string[], role: Role, setting: string): Map<string, Principal> {
  const out = new Map<string, Principal>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const key = colon < 0 ? entry : entry.slice(colon + 1);
    const named = colon < 0 ? null : entry.slice(0, colon);
    if (named !== null && !NAME.test(named)) {
      throw new ConfigError(`${setting}: entry #${i + 1} has the name "${named}": a name is letters, digits, ".", "_", "-" or "@" (up to 64), before the first ":"`);
    }
    if (key.length === 0) throw new ConfigError(`${setting}: entry #${i + 1} has an empty key`);
    const digest = keyDigest(key);
    const name = named ?? `key-${digest.slice(0, 12)}`;
    out.set(digest, Object.freeze({ id: `${role}:${name}`, name, role }));
  });
  return out;
}

/**
 * Every configured API principal (user, gateway, admin keys) by key digest. A key listed under
 * two roles is refused: which role it has would be a guess.
 * @example const keys = apiPrincipals(settings); keys.size === 0 // open mode
 */
export function apiPrincipals(s: { AIPROC_API_KEYS: string[]; AIPROC_GATEWAY_KEYS: string[]; AIPROC_ADMIN_KEYS: string[] }): Map<string, Principal> {
  const all = new Map<string, Principal>();
  const lists: Array<[string[], Role, string]> = [
    [s.AIPROC_API_KEYS, 'user', 'AIPROC_API_KEYS'],
    [s.AIPROC_GATEWAY_KEYS, 'gateway', 'AIPROC_GATEWAY_KEYS'],
    [s.AIPROC_ADMIN_KEYS, 'admin', 'AIPROC_ADMIN_KEYS'],
  ];
  for (const [entries, role, setting] of lists) {
    for (const [digest, p] of parseKeys(entries, role, setting)) {
      const other = all.get(digest);
      if (other && other.role !== role) throw new ConfigError(`${setting}: a key is also listed as ${other.role} (${other.name}); give each key one role`);
      all.set(digest, p);
    }
  }
  return all;
}

/** Which jobs a principal may read: all (admin), or those it made (and, for a gateway's end user, theirs). */
export interface JobScope {
  principal?: string;
  user?: string;
}

/**
 * The store filter for a principal's reads.
 * @example store.listJobs(20, jobScope(c.get('principal')))
 */
export function jobScope(p: Principal): JobScope {
  if (p.role === 'admin') return {};
  return { principal: p.id, ...(p.role === 'gateway' && p.user !== undefined && { user: p.user }) };
}

/**
 * Whether a job belongs to what a principal may read; callers answer 404 when not, so a job's
 * existence is not revealed either.
 * @example if (!maySee(principal, job)) throw new NotFoundError(`no job ${id}`)
 */
export function maySee(p: Principal, job: { principal: string; meta: { user?: string } }): boolean {
  const scope = jobScope(p);
  if (scope.principal !== undefined && job.principal !== scope.principal) return false;
  return scope.user === undefined || job.meta.user === scope.user;
}
