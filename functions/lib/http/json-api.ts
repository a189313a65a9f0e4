import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { BadInputError, messageOf, NotFoundError, statusOf, TooManyRequestsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { requireWellFormed } from '../well-formed.ts';
import { errorBody } from './openai.ts';

/**
 * A request's JSON body, well-formed (no lone surrogates); a body that is not JSON is a
 * BadInputError (400).
 * @example const body = parse(Schema, await jsonBody(c), 'body')
 */
export async function jsonBody(c: Context): Promise<unknown> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (err) {
    throw new BadInputError(`the body is not JSON: ${messageOf(err)}`);
  }
  requireWellFormed(body);
  return body;
}

/**
 * `value` parsed by `schema`; the first issue is a BadInputError naming the field under `where`
 * (`body.rule.scope: …`).
 * @example parse(z.object({ text: z.string() }), await jsonBody(c), 'body')
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const param = first?.path.length ? first.path.join('.') : null;
  throw new BadInputError(`${where}${param ? `.${param}` : ''}: ${first?.message ?? 'invalid'}`, { param });
}

/**
 * An API's errors as OpenAI-style JSON bodies with their status (and `Retry-After` on a 429), a
 * 404 body for a route it does not have, and a log line for anything that failed on our side
 * (5xx). The splitter's API and the APIs mounted in it (rules, eval) answer alike, also when a
 * sub-app is used on its own.
 * @example const app = new Hono(); jsonErrors(app, ctx.log, 'rules API')
 */
export function jsonErrors(app: Hono, log: Logger, what: string): void {
  app.onError((err, c) => {
    const status = statusOf(err);
    if (status >= 500) log.error({ err, path: c.req.path }, `${what} request failed`);
    if (err instanceof TooManyRequestsError) c.header('Retry-After', String(err.retryAfterSeconds));
    return c.json(errorBody(err), status as 400);
  });
  app.notFound((c) => c.json(errorBody(new NotFoundError(`no route ${c.req.method} ${c.req.path}`)), 404));
}
