import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { FunctionContext } from '../lib/context.ts';
import { AiprocError, TooLargeError, messageOf, statusOf } from '../lib/errors.ts';
import type { AnyEvent } from '../lib/events/index.ts';
import { readCloudEvent } from '../lib/http/cloudevents.ts';
import { errorBody } from '../lib/http/openai.ts';
import type { Settings } from '../lib/config/settings.ts';
import { createFeedbackAuth, type FeedbackAuth, type FeedbackAuthOptions } from './auth.ts';
import { feedbackHandler } from './handler.ts';

/** What the HTTP face does with an accepted event: by default, runs the feedback handler. */
export type HandleEvent = (event: AnyEvent) => Promise<void>;

/**
 * The feedback function's HTTP face: `POST /` takes one CloudEvent (binary or structured mode),
 * authenticates the sender (bearer token or Standard Webhooks signature, see auth.ts), validates
 * it and hands it to `handle`. 202 once handled; 401 unauthenticated or stale; 400 a bad event
 * (never retry); 503 try again later. Nothing is stored unless the sender was authenticated and
 * the event valid.
 * @example app.route('/v1/feedback', createFeedbackHttp(ctx))
 */
export function createFeedbackHttp(ctx: FunctionContext, handle?: HandleEvent, auth?: FeedbackAuth): Hono {
  const check = auth ?? createFeedbackAuth(feedbackAuthOptions(ctx.settings));
  const run: HandleEvent = handle ?? ((ev) => feedbackHandler(ev, ctx, { attempt: 1, signal: new AbortController().signal }));
  const limit = ctx.settings.AIPROC_BODY_LIMIT;
  const app = new Hono();

  const tooLarge = bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new TooLargeError(`the body is larger than ${limit} bytes (AIPROC_BODY_LIMIT)`);
    },
  });

  app.post('/', tooLarge, async function receiveFeedback(c) {
    const raw = await c.req.text();
    check.check(c.req.raw.headers, raw);
    const event = readCloudEvent(Object.fromEntries(c.req.raw.headers), raw);
    await run(event);
    return c.json({ accepted: true, id: event.id, type: event.type }, 202);
  });

  app.onError(function feedbackError(err, c) {
    const e = err instanceof HTTPException ? new AiprocErrorFromHttp(err) : err;
    const status = statusOf(e);
    if (status >= 500 && status !== 503) ctx.log.error({ err }, 'feedback request failed');
    else ctx.log.warn({ status, reason: messageOf(e) }, 'feedback request refused');
    return c.json(errorBody(e), status as 400);
  });
  return app;
}

/**
 * The feedback senders a process accepts, from its settings.
 * @example createFeedbackAuth(feedbackAuthOptions(settings))
 */
export function feedbackAuthOptions(s: Settings): FeedbackAuthOptions {
  const keys = s.AIPROC_API_KEYS.length + s.AIPROC_GATEWAY_KEYS.length + s.AIPROC_ADMIN_KEYS.length;
  return { tokens: s.AIPROC_FEEDBACK_TOKENS, secrets: s.AIPROC_WEBHOOK_SECRETS, closed: keys > 0 };
}

class AiprocErrorFromHttp extends AiprocError {
  constructor(err: HTTPException) {
    super(err.message || 'request refused', err.status, err.status < 500 ? 'invalid_request_error' : 'server_error');
  }
}
