import { randomBytes } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { createFeedbackHttp } from './feedback/http.ts';
import { feedbackHandler } from './feedback/handler.ts';
import { createRulesApi } from './feedback/rules-api.ts';
import { inferenceHandler } from './inference/handler.ts';
import { Queues } from './lib/bus/topology.ts';
import type { Bus } from './lib/bus/types.ts';
import type { ModelsConfig } from './lib/config/models.ts';
import type { Settings } from './lib/config/settings.ts';
import type { FunctionContext } from './lib/context.ts';
import { RetryLaterError, messageOf } from './lib/errors.ts';
import { EventTypes, makeEvent, type AnyEvent } from './lib/events/index.ts';
import type { Logger } from './lib/log.ts';
import type { ModelClient } from './lib/models/types.ts';
import { RulesCache } from './lib/rules.ts';
import type { Store } from './lib/store/types.ts';
import { failJob, mergerHandler, startRecovery } from './merger/handler.ts';
import { assertSafeBind } from './lib/http/auth.ts';
import { storeAnswers } from './lib/http/health.ts';
import { startEventsWebhook } from './lib/monitor/webhook.ts';
import { Metrics } from './lib/metrics/index.ts';
import { hasDepths, reportQueueDepth, reportRuleRatings } from './lib/metrics/collectors.ts';
import { observedModel } from './lib/metrics/model.ts';
import { metricsRoute } from './lib/metrics/route.ts';
import { noTelemetry, type Telemetry } from './lib/telemetry/index.ts';
import { tracedDeliver, tracedEmit } from './lib/telemetry/events.ts';
import { tracedFetch } from './lib/telemetry/http.ts';
import { genAiSpan } from './lib/telemetry/model.ts';
import { createApi } from './splitter/api.ts';
import { createConsoleApi } from './console/api.ts';
import { consolePage } from './console/page.ts';
import { createEvalApi } from './eval/http.ts';
import type { PrivateRuntime } from './eval/rule-check.ts';
import { MemoryBus } from './lib/bus/memory.ts';
import { ReplyHub } from './splitter/replies.ts';

export interface Roles {
  /** The OpenAI-compatible API, planning, and this instance's reply queue. */
  splitter?: boolean;
  /** Consumes aiproc.results; synthesises; recovers unfinished syntheses. */
  merger?: boolean;
  /** Consumes aiproc.feedback. */
  feedback?: boolean;
  /** Model slugs whose task queue this process consumes. */
  inference?: string[];
}

export interface RuntimeOptions {
  settings: Settings;
  config: ModelsConfig;
  log: Logger;
  bus: Bus;
  store: Store;
  model: ModelClient;
  roles: Roles;
  /** This process's name: event source, reply-queue name, synthesis claimant. Default: random. */
  instance?: string;
  /** Serve the API (splitter role) on settings.HOST:PORT. Default true. */
  listen?: boolean;
  /**
   * With the merger role: sweep the store for syntheses and jobs left unfinished (startRecovery).
   * Default true; off for the eval's private pipelines, which share the deployment's store but
   * not its bus (what they would fail or finish there, no client of the deployment would hear).
   */
  recovery?: boolean;
  /**
   * Parts of one model this process works on at once. Default: the model's per-pod
   * `scaling.concurrency` (one process = one pod). The embedded default passes what the whole
   * deployment would offer (max × concurrency): its engine bounds real parallelism itself.
   */
  inferenceConcurrency?: (model: ModelsConfig['models'][number]) => number;
  /** The process's metrics (served at `GET /metrics`). Default: a new registry. */
  metrics?: Metrics;
  /** The process's tracing (startTelemetry). Default: off. */
  telemetry?: Telemetry;
}

export interface Runtime {
  ctx: FunctionContext;
  /** The process's metrics, for `GET /metrics` on other HTTP faces (the standalone functions). */
  metrics: Metrics;
  /** The splitter's HTTP app, when the splitter role is on. */
  app?: Hono;
  /** Where the API listens, when it does. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Composes the functions over a bus, a store and a model client: the same code for `npm start`
 * (everything in one process on the in-process bus) and `npm run cluster` (one role per process
 * on RabbitMQ). Handlers stay transport-free; this is where queues meet them.
 * @example const rt = await startRuntime({ settings, config, log, bus, store, model, roles: { splitter: true, merger: true, feedback: true, inference: ['codellama-7b'] } })
 */
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { settings, config, bus, store, model, roles } = opts;
  const instance = opts.instance ?? `aiproc-${randomBytes(4).toString('hex')}`;
  const log = opts.log.child({ instance });
  const metrics = opts.metrics ?? new Metrics();
  const telemetry = opts.telemetry ?? noTelemetry;
  const traced = <A extends unknown[]>(deliver: (ev: AnyEvent, ...rest: A) => Promise<void>) => tracedDeliver(telemetry, deliver);
  const ctx: FunctionContext = {
    settings,
    config,
    store,
    model: observedModel(model, {
      metrics,
      nameOf: (tag) => config.models.find((m) => m.ollama === tag)?.slug ?? tag,
      ...(telemetry.enabled && { around: genAiSpan(telemetry, model.backend) }),
    }),
    rules: new RulesCache(store),
    log,
    emit: tracedEmit(telemetry, (e) => bus.publish(e)),
    instance,
    metrics,
    telemetry,
  };
  const stops: Array<() => Promise<void> | void> = [];

  stops.push(await bus.watch('dev.aiproc.rule.#', () => ctx.rules.invalidate()));
  // A client that went away: stop this process's work for the job, wherever it started.
  if (roles.inference?.length || roles.merger) {
    stops.push(await bus.watch(EventTypes.jobCancelled, (ev) => ev.jobid && bus.cancelJob(ev.jobid)));
  }

  for (const slug of roles.inference ?? []) {
    const m = config.models.find((x) => x.slug === slug);
    if (!m) throw new Error(`inference role for unknown model "${slug}"`);
    // A series from the start: one per process that serves the model (the dashboard counts pods by it).
    metrics.partsInFlight.set({ model: slug }, 0);
    stops.push(
      await bus.consume(
        Queues.task(slug),
        traced((ev, info) => metrics.trackPart(slug, () => inferenceHandler(ev, { ...ctx, log: log.child({ fn: 'inference', model: slug }) }, info, slug))),
        {
          concurrency: opts.inferenceConcurrency?.(m) ?? m.scaling.concurrency,
          attempts: settings.AIPROC_TASK_ATTEMPTS,
          onDeadLetter: (ev, reason, attempts) => taskFailed(ctx, ev, reason, attempts),
        },
      ),
    );
  }

  if (roles.merger) {
    const mctx = { ...ctx, log: log.child({ fn: 'merger' }) };
    stops.push(
      await bus.consume(Queues.results, traced((ev, info) => mergerHandler(ev, mctx, info)), {
        concurrency: 16,
        attempts: settings.AIPROC_TASK_ATTEMPTS,
        onDeadLetter: (ev, reason, _attempts, error) => {
          metrics.deadLetters.inc({ queue: Queues.results });
          return mergeFailed(mctx, ev, reason, error);
        },
      }),
    );
    if (opts.recovery !== false) stops.push(startRecovery(mctx));
  }

  if (roles.feedback) {
    const fctx = { ...ctx, log: log.child({ fn: 'feedback' }) };
    stops.push(
      await bus.consume(Queues.feedback, traced((ev, info) => feedbackHandler(ev, fctx, info)), {
        concurrency: 4,
        attempts: settings.AIPROC_TASK_ATTEMPTS,
        onDeadLetter: async (ev, reason) => {
          metrics.deadLetters.inc({ queue: Queues.feedback });
          fctx.log.error({ id: ev.id, type: ev.type, reason }, 'feedback event dead-lettered');
        },
      }),
    );
  }

  // One process forwards the lifecycle events to an HTTP webhook (n8n without RabbitMQ access): the feedback one.
  if (roles.feedback && settings.AIPROC_EVENTS_WEBHOOK_URL) {
    const hook = await startEventsWebhook({
      bus,
      url: settings.AIPROC_EVENTS_WEBHOOK_URL,
      log: log.child({ fn: 'events-webhook' }),
      ...(settings.AIPROC_EVENTS_WEBHOOK_TOKEN && { token: settings.AIPROC_EVENTS_WEBHOOK_TOKEN }),
    });
    stops.push(() => hook.stop());
  }

  let app: Hono | undefined;
  let url: string | undefined;
  if (roles.splitter) {
    const hub = new ReplyHub();
    stops.push(
      await bus.consume(
        Queues.reply(instance),
        traced(async (ev) => {
          metrics.observeReply(ev);
          hub.deliver(ev);
        }),
        { concurrency: 1, attempts: 1 },
      ),
    );
    if (hasDepths(bus)) reportQueueDepth(metrics, bus, config.models.map((m) => m.slug));
    reportRuleRatings(metrics, store);
    const sctx = { ...ctx, log: log.child({ fn: 'splitter' }) };
    const handleFeedback = (ev: AnyEvent) =>
      roles.feedback ? feedbackHandler(ev, { ...ctx, log: log.child({ fn: 'feedback' }) }, { attempt: 1, signal: new AbortController().signal }) : bus.publish(ev);
    app = createApi({
      ctx: sctx,
      bus,
      hub,
      mounts: {
        '/v1/rules': createRulesApi(sctx),
        '/v1/console': createConsoleApi(sctx),
        '/v1/eval': createEvalApi(sctx, { runtime: (evalStore) => privateRuntime(opts, evalStore) }),
      },
      openMounts: { '/v1/feedback': createFeedbackHttp(sctx, handleFeedback), '/': metricsRoute(metrics), '/console': consolePage() },
      ready: () => storeAnswers(store),
    });
    if (opts.listen !== false) {
      assertSafeBind(settings);
      const server = await listen(tracedFetch(telemetry, app.fetch), settings.HOST, settings.PORT);
      url = `http://${settings.HOST === '0.0.0.0' ? '127.0.0.1' : settings.HOST}:${server.port}`;
      stops.push(
        () =>
          new Promise<void>((resolve) => {
            // Open requests wait on jobs that stopping will not finish: give them a moment, then cut them.
            const cut = setTimeout(() => (server.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(), 2000);
            server.server.close(() => {
              clearTimeout(cut);
              resolve();
            });
          }),
      );
    }
  }

  return {
    ctx,
    metrics,
    ...(app && { app }),
    ...(url && { url }),
    async close() {
      for (const stop of stops.reverse()) {
        try {
          await stop();
        } catch (err) {
          log.warn({ err: messageOf(err) }, 'error while stopping');
        }
      }
    },
  };
}

/**
 * A whole pipeline of its own over an in-process bus, on this process's model and the given
 * store, with no port (reached only through `fetch`, so it needs no keys): what the eval API
 * asks, once with a rule and once without.
 */
async function privateRuntime(opts: RuntimeOptions, store: Store): Promise<PrivateRuntime> {
  const bus = new MemoryBus({ log: opts.log, retryDelayMs: opts.settings.AIPROC_RETRY_DELAY_MS });
  const rt = await startRuntime({
    ...opts,
    settings: { ...opts.settings, AIPROC_API_KEYS: [], AIPROC_GATEWAY_KEYS: [], AIPROC_ADMIN_KEYS: [], AIPROC_EVENTS_WEBHOOK_URL: undefined },
    bus,
    store,
    roles: { splitter: true, merger: true, inference: opts.config.models.map((m) => m.slug) },
    instance: undefined,
    listen: false,
    recovery: false,
    // Its own registry, never served: the check's jobs are not the deployment's traffic.
    metrics: new Metrics({ processMetrics: false }),
  });
  return {
    fetch: (req) => rt.app!.fetch(req),
    async close() {
      await rt.close();
      await bus.close();
    },
  };
}

/** A task given up on becomes task.failed, so the merger can finish the job without it. */
async function taskFailed(ctx: FunctionContext, ev: AnyEvent, reason: string, attempts: number): Promise<void> {
  if (ev.type !== EventTypes.taskRequested) return;
  const { jobId, part } = ev.data;
  await ctx.emit(
    makeEvent(EventTypes.taskFailed, { jobId, index: part.index, model: part.model, error: reason, attempts }, { source: ctx.instance, jobid: jobId, model: part.model, ...(ev.owner && { owner: ev.owner }) }),
  );
}

/**
 * A result given up on fails its job visibly (the merger model keeps failing, the event is bad).
 * Not after "retry later" (another merger holds the synthesis, the store is away): the job is
 * not hopeless, and the merger's recovery finishes it, or fails it once its attempts are spent.
 */
async function mergeFailed(ctx: FunctionContext, ev: AnyEvent, reason: string, error: unknown): Promise<void> {
  const jobId = ev.jobid ?? (ev.data as { jobId?: string }).jobId;
  // An opening that could not be written is no reason to fail a job: its answer goes without one.
  if (!jobId || error instanceof RetryLaterError || ev.type === EventTypes.jobPlanned) return;
  const job = await ctx.store.getJob(jobId);
  if (!job || ['completed', 'failed', 'cancelled'].includes(job.status)) return;
  await failJob(ctx, jobId, job.owner, `could not merge the answers: ${reason}`);
}

/**
 * Serves `fetch` on hostname:port (0: a free port) once it listens; rejects when it cannot (the
 * port is taken).
 * @example const { server, port } = await listen(app.fetch, '127.0.0.1', 0)
 */
export function listen(fetch: (req: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, (info) => resolve({ server, port: info.port }));
    server.once('error', reject);
  });
}
