import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import pg from 'pg';
import { listen, startRuntime, type Roles } from './app.ts';
import { AmqpBus, redactUrl } from './lib/bus/amqp/index.ts';
import { loadModelsConfig } from './lib/config/models.ts';
import { loadSettings } from './lib/config/settings.ts';
import { ConfigError, messageOf } from './lib/errors.ts';
import { eventKeysFrom } from './lib/events/index.ts';
import { createLogger, type Logger } from './lib/log.ts';
import type { Metrics } from './lib/metrics/index.ts';
import { metricsRoute } from './lib/metrics/route.ts';
import { resolveModelClient } from './lib/models/resolve.ts';
import type { ModelClient } from './lib/models/types.ts';
import { createStore, describeStore } from './lib/store/index.ts';
import { startTelemetry } from './lib/telemetry/index.ts';
import { redactUrl as redactDbUrl } from './lib/store/pg-driver.ts';

/** Used when AMQP_URL is not set: the local broker. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Used when DATABASE_URL is not set: a database `aiproc` on the local server, created if missing. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/aiproc';

/** A role a child process plays: `splitter`, `merger`, `feedback` or `inference:<slug>`. */
type RoleSpec = string;

const nameOf = (spec: RoleSpec) => spec.replace(':', '-');

function rolesOf(spec: RoleSpec): Roles {
  if (spec === 'splitter') return { splitter: true };
  if (spec === 'merger') return { merger: true };
  if (spec === 'feedback') return { feedback: true };
  if (spec.startsWith('inference:')) return { inference: [spec.slice('inference:'.length)] };
  throw new ConfigError(`unknown cluster role "${spec}"`);
}

/** Retries `fn` with back-off while it fails, logging why each time. */
async function withBackoff<T>(what: string, log: Logger, fn: () => Promise<T>, isFatal: (err: unknown) => boolean = (e) => e instanceof ConfigError): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (isFatal(err)) throw err;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      log.error({ attempt, retryInMs: delay }, `${what}: ${messageOf(err)}; retrying in ${delay} ms`);
      await sleep(delay);
    }
  }
}

/** The feedback role never calls a model; it should not load one. */
const noModel: ModelClient = {
  backend: 'scripted',
  describe: () => 'no model (feedback role)',
  chat: async () => {
    throw new Error('the feedback role has no model');
  },
  close: async () => {},
};

/** One child: one role of the pipeline on the AMQP bus and the Postgres store. */
async function runRole(spec: RoleSpec): Promise<void> {
  const settings = loadSettings();
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const instance = nameOf(spec);
  const telemetry = await startTelemetry(`aiproc-${instance}`);
  const log = createLogger(settings.LOG_LEVEL, { app: 'aiproc', role: instance }, undefined, telemetry.enabled ? { mixin: telemetry.logFields } : {});
  const roles = rolesOf(spec);
  const amqpUrl = settings.AMQP_URL ?? DEFAULT_AMQP_URL;

  const store = createStore(settings, log);
  await withBackoff(`cannot open the store (${describeStore(settings)}; DATABASE_URL)`, log, () => store.init());
  const eventKeys = eventKeysFrom(settings.AIPROC_EVENT_KEYS);
  if (!eventKeys) throw new ConfigError('AIPROC_EVENT_KEYS is not set (the launcher makes one; was this role started on its own?)');
  const bus = await AmqpBus.start({
    url: amqpUrl,
    log,
    instance,
    models: config.models.map((m) => m.slug),
    retryDelayMs: settings.AIPROC_RETRY_DELAY_MS,
    relayDeadTasks: roles.merger === true,
    eventKeys,
  });
  const model = roles.feedback ? noModel : (await resolveModelClient(settings, config, log)).client;
  const runtime = await startRuntime({ settings, config, log, bus, store, model, roles, instance, listen: roles.splitter === true, telemetry });
  // The splitter serves /metrics beside the API; every other role serves only /metrics, on the
  // port the launcher gave it (as each function does on Kubernetes).
  const metricsServer = roles.splitter ? undefined : await serveMetrics(runtime.metrics, settings.HOST, settings.PORT);
  const metricsUrl = metricsServer ? `http://${settings.HOST}:${metricsServer.port}/metrics` : `${runtime.url}/metrics`;
  process.send?.({ type: 'ready', name: instance, url: roles.splitter ? (runtime.url ?? null) : null, model: model.describe(), metrics: metricsUrl });

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    await runtime.close().catch((err: unknown) => log.warn({ err: messageOf(err) }, 'runtime close'));
    metricsServer?.server.close();
    await bus.close().catch(() => {});
    await model.close().catch(() => {});
    await store.close().catch(() => {});
    await telemetry.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // The launcher died (even by SIGKILL): do not linger as an orphan.
  process.on('disconnect', () => void stop('launcher gone'));
}

/** `GET /metrics` alone on host:port; a taken port is a ConfigError naming PORT. */
async function serveMetrics(metrics: Metrics, host: string, port: number) {
  const app = new Hono();
  app.route('/', metricsRoute(metrics));
  try {
    return await listen(app.fetch, host, port);
  } catch (err) {
    throw new ConfigError(`cannot serve /metrics on ${host}:${port} (PORT + 1 + the role's place; PORT=0 takes free ports): ${messageOf(err)}`);
  }
}

/** Creates the default database when it is missing; fails with a message naming DATABASE_URL. */
async function ensureDatabase(url: string, log: Logger): Promise<void> {
  await withBackoff(`cannot reach Postgres at ${redactDbUrl(url)} (DATABASE_URL)`, log, async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.end();
    } catch (err) {
      await client.end().catch(() => {});
      if ((err as { code?: string }).code !== '3D000') throw err;
      const name = new URL(url).pathname.slice(1);
      const admin = new URL(url);
      admin.pathname = '/postgres';
      const c = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
      try {
        await c.connect();
        await c.query(`create database "${name.replace(/"/g, '""')}"`);
        log.info({ database: name }, 'created the database');
      } catch (e) {
        if ((e as { code?: string }).code !== '42P04') throw new ConfigError(`DATABASE_URL names database "${name}", which does not exist and could not be created: ${messageOf(e)}`);
      } finally {
        await c.end().catch(() => {});
      }
    }
  });
}

interface Child {
  spec: RoleSpec;
  proc: ChildProcess | null;
  restarts: number;
  startedAt: number;
}

/**
 * `npm run cluster`: the splitter, the merger, the feedback function and one inference process
 * per configured model, each a separate OS process joined by RabbitMQ (AMQP_URL) and Postgres
 * (DATABASE_URL). A child that dies is started again with back-off; Ctrl-C stops them all.
 */
async function runLauncher(): Promise<void> {
  const settings = loadSettings();
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const log = createLogger(settings.LOG_LEVEL, { app: 'aiproc-cluster' });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AMQP_URL: settings.AMQP_URL ?? DEFAULT_AMQP_URL,
    DATABASE_URL: settings.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    // The processes sign their events to one another; without a key given, one for this run.
    AIPROC_EVENT_KEYS: settings.AIPROC_EVENT_KEYS.length ? settings.AIPROC_EVENT_KEYS.join(',') : randomBytes(32).toString('hex'),
  };
  eventKeysFrom(settings.AIPROC_EVENT_KEYS); // a key too short stops the launcher, not each child
  if (!settings.DATABASE_URL) await ensureDatabase(DEFAULT_DATABASE_URL, log);
  // Migrations once, here, before the children race to use the schema.
  const store = createStore({ ...settings, DATABASE_URL: env['DATABASE_URL'] }, log);
  await withBackoff(`cannot open the store (${describeStore({ ...settings, DATABASE_URL: env['DATABASE_URL'] })}; DATABASE_URL)`, log, () => store.init());
  await store.close();

  const specs: RoleSpec[] = ['splitter', 'merger', 'feedback', ...config.models.map((m) => `inference:${m.slug}`)];
  const children = new Map<RoleSpec, Child>(specs.map((s) => [s, { spec: s, proc: null, restarts: 0, startedAt: 0 }]));
  const ready = new Set<string>();
  let apiUrl: string | null = null;
  let stopping = false;
  let announced = false;
  const say = (line: string) => process.stdout.write(`cluster: ${line}\n`);

  // The splitter takes PORT (the API); the others serve /metrics on the ports after it, in the
  // order of `specs` (8081 merger, 8082 feedback, 8083… inference by default), or free ports with PORT=0.
  const portOf = (spec: RoleSpec) => (settings.PORT === 0 || spec === 'splitter' ? settings.PORT : settings.PORT + specs.indexOf(spec));
  const start = (c: Child) => {
    const proc = spawn(process.execPath, [import.meta.filename, '--role', c.spec], { env: { ...env, PORT: String(portOf(c.spec)) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.proc = proc;
    c.startedAt = Date.now();
    say(`${nameOf(c.spec)} started (pid ${proc.pid})`);
    proc.on('message', (m: { type?: string; name?: string; url?: string | null; model?: string; metrics?: string }) => {
      if (m.type !== 'ready') return;
      say(`${m.name} ready${m.model ? ` (${m.model})` : ''}${m.metrics ? `, metrics at ${m.metrics}` : ''}`);
      if (m.url) apiUrl = m.url;
      ready.add(nameOf(c.spec));
      if (ready.size === specs.length && apiUrl && !announced) {
        announced = true;
        say(`all ${specs.length} processes ready; RabbitMQ ${redactUrl(env['AMQP_URL']!)}, Postgres ${redactDbUrl(env['DATABASE_URL']!)}`);
        process.stdout.write(`listening on ${apiUrl}\n`);
      }
    });
    proc.on('exit', (code, signal) => {
      c.proc = null;
      if (stopping) return;
      if (code === EXIT_CONFIG) {
        say(`${nameOf(c.spec)} stopped on a configuration error (see above); stopping the cluster`);
        void stopAll('configuration error', 1);
        return;
      }
      // A child that ran a while before dying starts again at once; one that keeps dying backs off.
      if (Date.now() - c.startedAt > 30_000) c.restarts = 0;
      c.restarts += 1;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(c.restarts - 1, 7));
      say(`${nameOf(c.spec)} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !stopping && start(c), delay);
    });
  };
  let stopAll: (signal: string, exitCode?: number) => Promise<void>;
  for (const c of children.values()) start(c);

  stopAll = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping ${specs.length} processes`);
    const exits = [...children.values()].map(async (c) => {
      const p = c.proc;
      if (!p || p.exitCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      if ((await Promise.race([gone.then(() => 'exited'), sleep(15_000, 'timeout')])) === 'timeout') p.kill('SIGKILL');
    });
    await Promise.all(exits);
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
}

/** A child's exit code for a configuration error: restarting would not help. */
const EXIT_CONFIG = 78;

const roleAt = process.argv.indexOf('--role');
const main = roleAt >= 0 ? runRole(process.argv[roleAt + 1] ?? '') : runLauncher();
main.catch((err: unknown) => {
  process.stderr.write(`aiproc cluster: ${err instanceof ConfigError ? err.message : `could not start: ${messageOf(err)}`}\n`);
  process.exit(roleAt >= 0 && err instanceof ConfigError ? EXIT_CONFIG : 1);
});
