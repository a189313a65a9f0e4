import { startEmbedded } from './embedded.ts';
import { loadModelsConfig } from './lib/config/models.ts';
import { loadSettings } from './lib/config/settings.ts';
import { ConfigError, messageOf } from './lib/errors.ts';
import { assertSafeBind } from './lib/http/auth.ts';
import { createLogger } from './lib/log.ts';
import { resolveModelClient } from './lib/models/resolve.ts';
import { startTelemetry } from './lib/telemetry/index.ts';

/**
 * `npm start`: the embedded default. All four functions in one process on the in-process bus,
 * PGlite in the data folder (or DATABASE_URL), the first model backend that answers.
 */
async function run(): Promise<void> {
  const settings = loadSettings();
  // Before the store and the model: a refusal should not wait for a model download.
  assertSafeBind(settings);
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  // One process runs every function: one service, `aiproc` (spans say which function by name).
  const telemetry = await startTelemetry('aiproc');
  const log = createLogger(settings.LOG_LEVEL, { app: 'aiproc' }, undefined, telemetry.enabled ? { mixin: telemetry.logFields } : {});
  let description = '';
  const { runtime, store, close } = await startEmbedded({
    settings,
    config,
    log,
    telemetry,
    model: async () => {
      const resolved = await resolveModelClient(settings, config, log);
      description = resolved.description;
      return resolved.client;
    },
  });

  const feedbackAuth = settings.AIPROC_FEEDBACK_TOKENS.length || settings.AIPROC_WEBHOOK_SECRETS.length;
  const keyCounts = [
    [settings.AIPROC_API_KEYS.length, 'user'],
    [settings.AIPROC_GATEWAY_KEYS.length, 'gateway'],
    [settings.AIPROC_ADMIN_KEYS.length, 'admin'],
  ] as const;
  const anyKeys = keyCounts.some(([n]) => n > 0);
  const lines = [
    `aiproc is running (embedded: all functions in one process)`,
    `  API:       ${runtime.url}/v1  (OpenAI-compatible; model "aiproc" splits and merges; ${config.models.map((m) => m.slug).join(', ')} answer directly)`,
    `  models:    ${description}`,
    `  store:     ${store.describe()}`,
    `  data:      ${settings.AIPROC_DATA_DIR}`,
    anyKeys
      ? `  auth:      on (${keyCounts.filter(([n]) => n > 0).map(([n, role]) => `${n} ${role} key${n > 1 ? 's' : ''}`).join(', ')})`
      : `  auth:      OFF: no AIPROC_API_KEYS, AIPROC_GATEWAY_KEYS or AIPROC_ADMIN_KEYS; anyone who can reach ${runtime.url ? new URL(runtime.url).host : `${settings.HOST}:${settings.PORT}`} is an administrator`,
    `  feedback:  POST ${runtime.url}/v1/feedback (${feedbackAuth ? 'bearer token or signed webhook required' : anyKeys ? 'CLOSED: set AIPROC_FEEDBACK_TOKENS or AIPROC_WEBHOOK_SECRETS to accept ratings' : 'OPEN: set AIPROC_FEEDBACK_TOKENS or AIPROC_WEBHOOK_SECRETS'})`,
    `  jobs:      ${runtime.url}/v1/jobs/<id>`,
    `listening on ${runtime.url}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      process.stderr.write('aiproc: stopping now\n');
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`aiproc: stopping (${signal}); again to stop at once\n`);
    // Never hang on the way out: whatever is still open after 10 s is cut.
    setTimeout(() => process.exit(1), 10_000).unref();
    await close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

run().catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`aiproc: ${err.message}\n`);
  else process.stderr.write(`aiproc: could not start: ${messageOf(err)}\n`);
  process.exit(1);
});
