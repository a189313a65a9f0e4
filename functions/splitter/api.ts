import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Bus } from '../lib/bus/types.ts';
import { tokenBudget } from '../lib/config/settings.ts';
import type { FunctionContext } from '../lib/context.ts';
import { BadInputError, CancelledError, NotFoundError, TooLargeError, messageOf } from '../lib/errors.ts';
import { EventTypes, makeEvent, SynthesisSchema, type Synthesis } from '../lib/events/index.ts';
import { jobScope, maySee, type Principal } from '../lib/auth/principal.ts';
import { principalAuth } from '../lib/http/auth.ts';
import { healthRoutes } from '../lib/http/health.ts';
import { jsonErrors } from '../lib/http/json-api.ts';
import { parseChatRequest } from '../lib/http/openai.ts';
import { streamCompletion, taskCompletion, wholeCompletion } from './relay.ts';
import { openWebUITask } from './tasks.ts';
import { newJob, PIPELINE_MODEL, startJob } from './handler.ts';
import { jobEventsRoute } from './job-events.ts';
import { checkCapabilities, jobOptions } from './needs.ts';
import { checkLimits, createJobWithinLimit } from './limits.ts';
import type { ReplyHub } from './replies.ts';

export interface ApiOptions {
  ctx: FunctionContext;
  bus: Bus;
  hub: ReplyHub;
  /** Extra routes mounted behind the API-key auth, e.g. `{ '/v1/rules': rulesApi }`. */
  mounts?: Record<string, Hono>;
  /** Extra routes mounted without the API-key auth (they authenticate themselves), e.g. feedback. */
  openMounts?: Record<string, Hono>;
  /** Whether the store and model answer, for /readyz. */
  ready?: () => Promise<void>;
}

/**
 * The splitter's public HTTP face: the OpenAI-compatible API (models, chat completions, streamed
 * or not), the job API and health. Every error becomes an OpenAI error object in one place.
 * @example serve({ fetch: createApi({ ctx, bus, hub }).fetch, port: 8080 })
 */
export function createApi(opts: ApiOptions): Hono {
  const { ctx, bus, hub } = opts;
  const app = new Hono();
  jsonErrors(app, ctx.log, 'API');

  app.route('/', healthRoutes(opts.ready ?? (async () => {})));

  for (const [path, sub] of Object.entries(opts.openMounts ?? {})) app.route(path, sub);
  app.use('/v1/*', principalAuth(ctx.settings));
  for (const [path, sub] of Object.entries(opts.mounts ?? {})) app.route(path, sub);

  app.get('/v1/models', (c) =>
    c.json({
      object: 'list',
      data: [
        // OpenAI's shape; what is ours sits under `aiproc`, a key no client interprets (OpenWebUI
        // reads an `ollama` key as an Ollama model object and lists no models at all).
        { id: PIPELINE_MODEL, object: 'model', created: 0, owned_by: 'aiproc', aiproc: { description: 'split, run each part on the model that suits it, merge' } },
        ...ctx.config.models.map((m) => ({ id: m.slug, object: 'model', created: 0, owned_by: 'aiproc', aiproc: { description: m.strengths, ollama: m.ollama } })),
      ],
    }),
  );

  app.post(
    '/v1/chat/completions',
    bodyLimit({
      maxSize: ctx.settings.AIPROC_BODY_LIMIT,
      onError: () => {
        throw new TooLargeError(`request body is larger than ${ctx.settings.AIPROC_BODY_LIMIT} bytes (AIPROC_BODY_LIMIT)`);
      },
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new BadInputError('the body is not valid JSON', { param: null });
      }
      const { req, messages, options } = parseChatRequest(body);
      const model = resolveModel(ctx, req.model);
      await checkCapabilities(ctx, model, options);
      const jobId = randomUUID();
      const maxTokens = options.maxTokens === undefined ? undefined : tokenBudget(ctx.settings, options.maxTokens);
      const principal = c.get('principal');
      await checkLimits(ctx, principal);
      const job = {
        jobId,
        model,
        messages,
        stream: req.stream,
        principal: { id: principal.id, role: principal.role },
        meta: mayAssert(principal)
          ? {
              ...optional('user', principal.user ?? (typeof body === 'object' && body && 'user' in body ? String((body as { user: unknown }).user) : undefined)),
              ...optional('chatId', c.req.header('x-openwebui-chat-id')),
              ...optional('messageId', c.req.header('x-openwebui-message-id')),
            }
          : {},
        ...(maxTokens != null && { maxTokens }),
        ...jobOptions(options),
        ...synthesisHeader(c.req.header(SYNTHESIS_HEADER)),
      };
      c.header('X-Request-Id', jobId);
      const task = openWebUITask(c.req.header('x-openwebui-task'), messages);
      if (task) return taskCompletion(c, ctx, { ...job, task }, req.model);
      // Stored before the answer starts, so that a job past the limit is a 429, not a failed stream.
      await createJobWithinLimit(ctx, principal, newJob(ctx, job));
      const cancel = new AbortController();
      const onCancel = () => {
        if (cancel.signal.aborted) return;
        cancel.abort(new CancelledError('the client went away'));
        ctx.metrics?.jobFinished(jobId, 'cancelled');
        bus.cancelJob(jobId);
        // Other processes (npm run cluster, Knative) stop their work for it too.
        void ctx
          .emit(makeEvent(EventTypes.jobCancelled, { jobId, reason: 'the client went away' }, { source: ctx.instance, jobid: jobId }))
          .catch((err) => ctx.log.warn({ jobId, err: messageOf(err) }, 'could not broadcast the cancellation'));
        void ctx.store.cancelJob(jobId).catch((err) => ctx.log.warn({ jobId, err: messageOf(err) }, 'could not cancel job'));
      };
      const start = () => {
        ctx.metrics?.jobStarted(jobId, model);
        return startJob(ctx, job, cancel.signal);
      };
      const relay = { jobId, model: req.model, start, onCancel, hub, signal: cancel.signal };
      if (req.stream) return streamCompletion(c, { ...relay, includeUsage: req.stream_options?.include_usage === true });
      return wholeCompletion(c, relay);
    },
  );

  // A user reads only its own jobs; another's answer 404, as if they did not exist.
  app.get('/v1/jobs', async (c) => {
    const limit = listLimit(c.req.query('limit'));
    return c.json({ object: 'list', data: await ctx.store.listJobs(limit, jobScope(c.get('principal'))) });
  });
  app.get('/v1/jobs/:id', async (c) => {
    const job = await ctx.store.getJob(validJobId(c.req.param('id')));
    if (!job || !maySee(c.get('principal'), job)) throw new NotFoundError(`no job ${c.req.param('id')}`);
    return c.json(job);
  });
  app.get('/v1/jobs/:id/events', (c) => jobEventsRoute(c, ctx, hub, validJobId(c.req.param('id')), (job) => maySee(c.get('principal'), job)));
  return app;
}

/** A request may force how a split answer is put together; the eval compares the two. */
export const SYNTHESIS_HEADER = 'X-Aiproc-Synthesis';

function synthesisHeader(value: string | undefined): { synthesis?: Synthesis } {
  if (value === undefined || value.trim() === '') return {};
  const r = SynthesisSchema.safeParse(value.trim().toLowerCase());
  if (!r.success) throw new BadInputError(`${SYNTHESIS_HEADER}: must be "stitch" or "rewrite", not "${value.slice(0, 40)}"`, { param: SYNTHESIS_HEADER });
  return { synthesis: r.data };
}

function optional<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v ? ({ [key]: v } as Record<K, string>) : {};
}

/**
 * Whether the caller may say who its end user is and which OpenWebUI chat and message a job
 * answers (ratings find their job by these): a gateway, or anyone when no keys are configured.
 */
function mayAssert(p: Principal): boolean {
  return p.role === 'gateway' || p.open === true;
}

/** `?limit=`: a whole number 1..200, default 20; anything else is a 400 naming `limit`. */
function listLimit(raw: string | undefined): number {
  if (raw === undefined) return 20;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 200) {
    throw new BadInputError(`limit: must be a whole number from 1 to 200, got "${raw.slice(0, 40)}"`, { param: 'limit' });
  }
  return Number(raw);
}

function validJobId(id: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError(`no job ${id}`);
  return id;
}

/** `aiproc`, a model slug, or an Ollama tag of a configured model; anything else is a 400 naming `model`. */
function resolveModel(ctx: FunctionContext, requested: string): string {
  if (requested === PIPELINE_MODEL) return PIPELINE_MODEL;
  const m = ctx.config.models.find((x) => x.slug === requested || x.ollama === requested);
  if (!m) {
    const known = [PIPELINE_MODEL, ...ctx.config.models.map((x) => x.slug)].join(', ');
    throw new BadInputError(`model: unknown model "${requested}"; use one of ${known}`, { param: 'model' });
  }
  return m.slug;
}
