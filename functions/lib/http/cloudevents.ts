import { HTTP } from 'cloudevents';
import { Hono } from 'hono';
import { BadInputError, messageOf, statusOf } from '../errors.ts';
import { fromCloudEvent, type AnyEvent } from '../events/event.ts';
import { errorBody } from './openai.ts';
import type { Logger } from '../log.ts';

/**
 * A function's HTTP face for Knative and the local dispatcher: `POST /` takes one CloudEvent
 * (binary or structured mode) and runs the handler. 202 when done; 400 for an event that can
 * never succeed (Knative's RabbitMQ source then dead-letters it); 503/429/502 to be retried.
 * @example app.route('/', cloudEventsApp((ev) => mergerHandler(ev, ctx, info), { log, accepts: [...] }))
 */
export function cloudEventsApp(handle: (event: AnyEvent, signal: AbortSignal) => Promise<void>, opts: { log: Logger; accepts: string[]; bodyLimit: number }): Hono {
  const app = new Hono();
  app.post('/', async function receiveCloudEvent(c) {
    const body = await c.req.text();
    if (Buffer.byteLength(body) > opts.bodyLimit) return c.json(errorBody(new BadInputError('event too large')), 413);
    const headers = Object.fromEntries(c.req.raw.headers.entries());
    let event: AnyEvent;
    try {
      const ce = HTTP.toEvent({ headers, body });
      if (Array.isArray(ce)) throw new BadInputError('batched CloudEvents are not accepted; send one event per request');
      event = fromCloudEvent(ce);
    } catch (err) {
      const e = err instanceof BadInputError ? err : new BadInputError(`not a valid CloudEvent: ${messageOf(err)}`);
      opts.log.warn({ reason: e.message }, 'event rejected');
      return c.json(errorBody(e), 400);
    }
    if (!opts.accepts.includes(event.type)) {
      return c.json(errorBody(new BadInputError(`this function takes ${opts.accepts.join(', ')}, not ${event.type}`, { param: 'type' })), 400);
    }
    try {
      await handle(event, c.req.raw.signal);
      return c.body(null, 202);
    } catch (err) {
      const status = statusOf(err);
      opts.log[status >= 500 ? 'error' : 'warn']({ type: event.type, id: event.id, status, err: messageOf(err) }, 'event failed');
      return c.json(errorBody(err), status as 400);
    }
  });
  return app;
}
