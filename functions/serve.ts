import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pRetry from 'p-retry';
import { startRuntime } from './app.ts';
import { createFeedbackAuth } from './feedback/auth.ts';
import { feedbackHandler } from './feedback/handler.ts';
import { inferenceHandler } from './inference/handler.ts';
import { AmqpBus } from './lib/bus/amqp/index.ts';
import { loadModelsConfig, ollamaTag } from './lib/config/models.ts';
import { loadSettings } from './lib/config/settings.ts';
import { CancelledError, ConfigError, messageOf } from './lib/errors.ts';
import { EventTypes, eventKeysFrom, type AnyEvent } from './lib/events/index.ts';
import { cloudEventsApp } from './lib/http/cloudevents.ts';
import { healthRoutes, storeAnswers } from './lib/http/health.ts';
import { metricsRoute } from './lib/metrics/route.ts';
import { startTelemetry } from './lib/telemetry/index.ts';
import { tracedDeliver } from './lib/telemetry/events.ts';
import { createLogger } from './lib/log.ts';
import { OllamaClient } from './lib/models/ollama.ts';
import { createStore } from './lib/store/index.ts';
import { mergerHandler, startRecovery } from './merger/handler.ts';

const FUNCTIONS = ['splitter', 'inference', 'merger', 'feedback'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

/**
 * One function alone, as Knative runs it (`FUNCTION=splitter|inference|merger|feedback`):
 * the splitter serves the OpenAI API and reads its own reply queue; the others take CloudEvents
 * at `POST /` from Knative's RabbitMQ source (or the local dispatcher) and publish with amqplib.
 * Connections that fail at start are retried with back-off, naming the setting, instead of crash-looping.
 */
async function run(): Promise<void> {
  const fn = process.env.FUNCTION as FunctionName;
  if (!FUNCTIONS.includes(fn)) throw new ConfigError(`FUNCTION must be one of ${FUNCTIONS.join(', ')}; got "${process.env.FUNCTION ?? ''}"`);
  const settings = loadSettings();
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const slug = process.env.AIPROC_MODEL_SLUG;
  if (fn === 'inference' && !config.models.some((m) => m.slug === slug))
    throw new ConfigError(`AIPROC_MODEL_SLUG must name a model of ${settings.AIPROC_MODELS_FILE} (${config.models.map((m) => m.slug).join(', ')}); got "${slug ?? ''}"`);
  // Knative delivers events over HTTP from anything that can reach the pod: only signed ones are acted on.
  const eventKeys = eventKeysFrom(settings.AIPROC_EVENT_KEYS);
  if (!eventKeys) {
    throw new ConfigError('AIPROC_EVENT_KEYS is not set: a standalone function signs the events it sends and acts only on signed ones; give every function the same key (openssl rand -hex 32)');
  }
  const instance = `${fn}${slug ? `-${slug}` : ''}-${hostname().slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  const telemetry = await startTelemetry(`aiproc-${fn}${fn === 'inference' ? `-${slug}` : ''}`);
  const log = createLogger(settings.LOG_LEVEL, { fn, instance }, undefined, telemetry.enabled ? { mixin: telemetry.logFields } : {});

  const store = createStore(settings, log);
  await pRetry(() => store.init(), {
    retries: Number.POSITIVE_INFINITY,
    maxTimeout: 30_000,
    onFailedAttempt: ({ error, attemptNumber }) => log.warn({ attempt: attemptNumber, err: messageOf(error) }, 'store not reachable yet (DATABASE_URL / SUPABASE_URL); retrying'),
  });
  const bus = await AmqpBus.start({
    url: settings.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    log,
    instance,
    models: config.models.map((m) => m.slug),
    retryDelayMs: settings.AIPROC_RETRY_DELAY_MS,
    relayDeadTasks: fn === 'merger',
    eventKeys,
  });
  const model = new OllamaClient({ host: settings.OLLAMA_HOST });

  if (fn === 'splitter') {
    const rt = await startRuntime({ settings, config, log, bus, store, model, roles: { splitter: true }, instance, telemetry });
    log.info({ url: rt.url }, 'splitter listening');
    process.stdout.write(`listening on ${rt.url}\n`);
    shutdown(async () => {
      await rt.close();
      await bus.close();
      await store.close();
      await telemetry.shutdown();
    });
    return;
  }

  const rt = await startRuntime({ settings, config, log, bus, store, model, roles: {}, instance, listen: false, telemetry });
  const ctx = rt.ctx;
  // Work in flight per job, so a job.cancelled broadcast (the client went away) stops it here too.
  const inFlight = new Map<string, Set<AbortController>>();
  const stopWatching = await bus.watch(EventTypes.jobCancelled, (ev) => {
    for (const ac of inFlight.get(ev.jobid ?? '') ?? []) ac.abort(new CancelledError('the client went away'));
  });
  const run = tracedDeliver(telemetry, async (ev: AnyEvent, signal: AbortSignal, work: (info: { attempt: number; signal: AbortSignal }) => Promise<void>) => {
    const ac = new AbortController();
    const key = ev.jobid ?? '';
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let set = inFlight.get(key);
    if (!set) inFlight.set(key, (set = new Set()));
    set.add(ac);
    try {
      await work({ attempt: 1, signal: ac.signal });
    } catch (err) {
      // Cancelled work is done with: acknowledge it so the source does not redeliver it.
      if (err instanceof CancelledError) return;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      set.delete(ac);
      if (set.size === 0) inFlight.delete(key);
    }
  });
  const app = new Hono();
  app.route(
    '/',
    healthRoutes(async () => {
      await storeAnswers(store);
      if (fn === 'inference') {
        // Ready only once the sidecar Ollama has this model.
        const tag = ollamaTag(config, slug!);
        const names = await OllamaClient.probe(settings.OLLAMA_HOST, 2000);
        if (!names) throw new Error(`no Ollama answers at ${settings.OLLAMA_HOST}`);
        if (!names.some((n) => n === tag || n === `${tag}:latest`)) throw new Error(`Ollama has not pulled ${tag} yet`);
      }
    }),
  );
  app.route('/', metricsRoute(rt.metrics));
  const opts = { log, bodyLimit: settings.AIPROC_BODY_LIMIT, keys: eventKeys };
  let stopRecovery = () => {};
  if (fn === 'inference') {
    // A series from the start: one per pod that serves the model (the dashboard counts pods by it).
    const serves = slug!; // checked above: a configured model
    rt.metrics.partsInFlight.set({ model: serves }, 0);
    app.route('/', cloudEventsApp((ev, signal) => run(ev, signal, (info) => rt.metrics.trackPart(serves, () => inferenceHandler(ev, ctx, info, serves))), { ...opts, accepts: [EventTypes.taskRequested] }));
  } else if (fn === 'merger') {
    app.route('/', cloudEventsApp((ev, signal) => run(ev, signal, (info) => mergerHandler(ev, ctx, info)), { ...opts, accepts: [EventTypes.taskCompleted, EventTypes.taskFailed, EventTypes.jobPlanned] }));
    stopRecovery = startRecovery(ctx);
  } else {
    // Besides the feedback queue (signed, through Knative), n8n may post here with its feedback token or webhook signature.
    const senders = createFeedbackAuth({ tokens: settings.AIPROC_FEEDBACK_TOKENS, secrets: settings.AIPROC_WEBHOOK_SECRETS, closed: true });
    app.route('/', cloudEventsApp((ev, signal) => run(ev, signal, (info) => feedbackHandler(ev, ctx, info)), { ...opts, senders, accepts: [EventTypes.feedbackRated, EventTypes.ruleProposed, EventTypes.performanceReported] }));
  }
  const server = serve({ fetch: app.fetch, hostname: settings.HOST, port: settings.PORT }, (a) => {
    log.info({ port: a.port }, `${fn} listening`);
    process.stdout.write(`listening on http://${settings.HOST}:${a.port}\n`);
  });
  shutdown(async () => {
    stopRecovery();
    await stopWatching();
    await new Promise<void>((r) => server.close(() => r()));
    await rt.close();
    await bus.close();
    await store.close();
    await telemetry.shutdown();
  });
}

function shutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

run().catch((err) => {
  process.stderr.write(`aiproc ${process.env.FUNCTION ?? ''}: ${err instanceof ConfigError ? err.message : `could not start: ${messageOf(err)}`}\n`);
  process.exit(1);
});
