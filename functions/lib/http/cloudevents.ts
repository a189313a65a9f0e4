import { HTTP, type CloudEvent } from 'cloudevents';
import { Hono } from 'hono';
import { BadInputError, NotFoundError, messageOf, statusOf } from '../errors.ts';
import { fromCloudEvent, type AnyEvent } from '../events/event.ts';
import type { EventKeys } from '../events/signature.ts';
import { errorBody } from './openai.ts';
import type { Logger } from '../log.ts';

/** Where `POST /` takes events from besides other functions: a sender with its own credential (n8n with a feedback token). */
export interface OtherSenders {
  /** Whether the request claims to be from such a sender (e.g. carries `Authorization`). */
  claims(headers: Headers): boolean;
  /** Throws AuthError (401) unless the claim holds. */
  check(headers: Headers, rawBody: string): void;
}

export interface CloudEventsAppOptions {
  log: Logger;
  /** The event types this function takes; any other is a 400. */
  accepts: string[];
  bodyLimit: number;
  /** AIPROC_EVENT_KEYS: an event without a valid signature is refused (401) before anything is done. */
  keys: EventKeys;
  /** Senders that authenticate themselves instead of signing the event (the feedback function's n8n). */
  senders?: OtherSenders;
}

/**
 * A function's HTTP face for Knative and the local dispatcher: `POST /` takes one CloudEvent
 * (binary or structured mode), checks its signature (or its sender's credential), and runs the
 * handler. 202 when done; 401 unsigned, wrongly signed or tampered; 400 for an event that can
 * never succeed (Knative's RabbitMQ source then dead-letters it); 503/429/502 to be retried.
 * @example app.route('/', cloudEventsApp((ev) => mergerHandler(ev, ctx, info), { log, accepts: [...], bodyLimit, keys }))
 */
export function cloudEventsApp(handle: (event: AnyEvent, signal: AbortSignal) => Promise<void>, opts: CloudEventsAppOptions): Hono {
  const app = new Hono();
  app.post('/', async function receiveCloudEvent(c) {
    const body = await c.req.text();
    // 400, not 413: Knative's RabbitMQ source retries 413, and a too-large event never shrinks.
    if (Buffer.byteLength(body) > opts.bodyLimit) return c.json(errorBody(new BadInputError(`event larger than ${opts.bodyLimit} bytes (AIPROC_BODY_LIMIT)`)), 400);
    let event: AnyEvent;
    try {
      const sender = opts.senders?.claims(c.req.raw.headers) === true;
      if (sender) opts.senders!.check(c.req.raw.headers, body);
      event = readCloudEvent(Object.fromEntries(c.req.raw.headers.entries()), body, sender ? null : opts.keys);
    } catch (err) {
      const status = statusOf(err) === 401 ? 401 : 400;
      opts.log.warn({ status, reason: messageOf(err) }, 'event rejected');
      return c.json(errorBody(err), status);
    }
    if (!opts.accepts.includes(event.type)) {
      return c.json(errorBody(new BadInputError(`this function takes ${opts.accepts.join(', ')}, not ${event.type}`, { param: 'type' })), 400);
    }
    try {
      await handle(event, c.req.raw.signal);
      return c.body(null, 202);
    } catch (err) {
      // Our 404 (no such job/part) can never succeed, but Knative's source retries 404: answer 400.
      const status = err instanceof NotFoundError ? 400 : statusOf(err);
      opts.log[status >= 500 ? 'error' : 'warn']({ type: event.type, id: event.id, status, err: messageOf(err) }, 'event failed');
      return c.json(errorBody(err), status as 400);
    }
  });
  return app;
}

/**
 * One CloudEvent from an HTTP request (binary or structured mode), typed and validated, or a
 * BadInputError naming what is wrong. The SDK would invent a missing id or source; we refuse
 * them instead, since redeliveries are deduplicated by (source, id). With `keys`, an event
 * without a valid signature is an EventSignatureError (401).
 * @example const ev = readCloudEvent(Object.fromEntries(req.headers), await req.text(), keys)
 */
export function readCloudEvent(headers: Record<string, string>, body: string, keys: EventKeys | null = null): AnyEvent {
  const structured = (headers['content-type'] ?? '').startsWith('application/cloudevents');
  let attrs: Record<string, unknown> = {};
  if (structured) {
    try {
      attrs = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw new BadInputError('not a CloudEvent: a structured event\'s body is not JSON');
    }
  }
  for (const name of ['specversion', 'id', 'source', 'type']) {
    const v = structured ? attrs[name] : headers[`ce-${name}`];
    if (typeof v !== 'string' || v === '') throw new BadInputError(`not a CloudEvent: no ${name} (${structured ? 'in the body' : `header ce-${name}`})`, { param: name });
  }
  let ce;
  try {
    ce = HTTP.toEvent({ headers, body });
  } catch (err) {
    throw new BadInputError(`not a CloudEvent: ${messageOf(err)}`);
  }
  if (Array.isArray(ce)) throw new BadInputError('batched CloudEvents are not accepted: send one event per request');
  try {
    (ce as CloudEvent<unknown>).validate();
  } catch (err) {
    throw new BadInputError(`invalid CloudEvent: ${messageOf(err)}`);
  }
  return fromCloudEvent(ce, keys);
}
