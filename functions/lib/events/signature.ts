import { createHmac, timingSafeEqual } from 'node:crypto';
import { AiprocError, ConfigError } from '../errors.ts';

/**
 * The CloudEvents extension attribute that carries an event's signature. Lower-case letters and
 * digits only, so it survives RabbitMQ headers (`ce-aiprocsig`) and RabbitmqSource's binary mode.
 */
export const SIGNATURE_ATTRIBUTE = 'aiprocsig';

/** The scheme, first in the attribute's value, so a later one can be told apart. */
const SCHEME = 'v1';

/** The keys of AIPROC_EVENT_KEYS: the first signs, any verifies (rotation). */
export interface EventKeys {
  readonly keys: readonly Buffer[];
}

/** An event is unsigned, wrongly signed or tampered with: 401 over HTTP, dead-lettered over AMQP, never retried. */
export class EventSignatureError extends AiprocError {
  constructor(message: string) {
    super(message, 401, 'invalid_event_signature');
    this.name = 'EventSignatureError';
  }
}

/** What a signature covers. */
export interface SignedFields {
  id: string;
  type: string;
  source: string;
  time: string;
  data: unknown;
}

const MIN_KEY_LENGTH = 32;

/**
 * AIPROC_EVENT_KEYS as keys, or null when none are set. A key shorter than 32 characters stops
 * the start (e.g. `openssl rand -hex 32` makes a good one).
 * @example const keys = eventKeysFrom(settings.AIPROC_EVENT_KEYS)
 */
export function eventKeysFrom(list: readonly string[]): EventKeys | null {
  if (list.length === 0) return null;
  list.forEach((k, i) => {
    if (k.length < MIN_KEY_LENGTH) throw new ConfigError(`AIPROC_EVENT_KEYS: key #${i + 1} is ${k.length} characters; use at least ${MIN_KEY_LENGTH} (openssl rand -hex 32)`);
  });
  return Object.freeze({ keys: list.map((k) => Buffer.from(k, 'utf8')) });
}

/**
 * JSON with object keys sorted at every level: the same value gives the same text wherever it
 * was parsed and re-serialised (key order is the only thing JSON round trips may change).
 * @example canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }) // '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

/** Bindings may rewrite the time's format (the SDK writes milliseconds): the instant is what is signed. */
function canonicalTime(time: string): string {
  const t = Date.parse(time);
  return Number.isNaN(t) ? time : new Date(t).toISOString();
}

function mac(key: Buffer, f: SignedFields): Buffer {
  const text = JSON.stringify([SCHEME, f.id, f.type, f.source, canonicalTime(f.time), canonicalJson(f.data ?? null)]);
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/**
 * The signature attribute's value: `v1,` and the base64url HMAC-SHA256, with the first key, over
 * the id, type, source, time and data.
 * @example ce[SIGNATURE_ATTRIBUTE] = signEvent(ev, keys)
 */
export function signEvent(f: SignedFields, k: EventKeys): string {
  return `${SCHEME},${mac(k.keys[0]!, f).toString('base64url')}`;
}

/**
 * Throws EventSignatureError unless `signature` is a valid signature of the fields with one of
 * the keys. Comparisons are constant-time, against every key.
 * @example verifyEvent({ id, type, source, time, data }, ce.aiprocsig, keys)
 */
export function verifyEvent(f: SignedFields, signature: unknown, k: EventKeys): void {
  if (typeof signature !== 'string' || signature === '') {
    throw new EventSignatureError(`unsigned event ${f.type} (${f.id}): no ${SIGNATURE_ATTRIBUTE} attribute; events between functions are signed with AIPROC_EVENT_KEYS`);
  }
  const [scheme, value] = signature.split(',', 2);
  if (scheme !== SCHEME || !value) throw new EventSignatureError(`event ${f.type} (${f.id}): ${SIGNATURE_ATTRIBUTE} is not a ${SCHEME} signature`);
  const given = Buffer.from(value, 'base64url');
  let ok = false;
  for (const key of k.keys) {
    const want = mac(key, f);
    ok = (given.length === want.length && timingSafeEqual(given, want)) || ok;
  }
  if (!ok) throw new EventSignatureError(`event ${f.type} (${f.id}): the signature matches none of AIPROC_EVENT_KEYS (forged, tampered with, or signed with a key no longer listed)`);
}
