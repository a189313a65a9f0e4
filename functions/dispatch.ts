import { z } from 'zod';
import { startDispatcher } from './lib/bus/amqp/dispatcher.ts';
import { ConfigError, messageOf } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';

/** The dispatcher's settings (environment), with RabbitmqSource's names in the comments. */
export const DispatchSettingsSchema = z.object({
  AMQP_URL: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
  /** The queue to consume (RabbitmqSource spec.rabbitmqResourcesConfig.queueName). */
  DISPATCH_QUEUE: z.string().min(1, 'DISPATCH_QUEUE is required, e.g. aiproc.tasks.codellama-7b'),
  /** The function's CloudEvents endpoint (spec.sink). */
  DISPATCH_TARGET: z.url({ message: 'DISPATCH_TARGET must be the URL of a function endpoint, e.g. http://127.0.0.1:8081/' }),
  /** Prefetch and concurrent deliveries (spec.rabbitmqResourcesConfig.parallelism). */
  DISPATCH_PARALLELISM: z.coerce.number().int().min(1).max(1000).default(1),
  /** Retries after the first attempt (spec.delivery.retry). */
  DISPATCH_RETRY: z.coerce.number().int().min(0).max(100).default(5),
  /** spec.delivery.backoffPolicy. */
  DISPATCH_BACKOFF_POLICY: z.enum(['exponential', 'linear']).default('exponential'),
  /** spec.delivery.backoffDelay, in ms. */
  DISPATCH_BACKOFF_DELAY_MS: z.coerce.number().int().min(0).default(200),
  /** Per-request timeout, ms (generation can be slow). */
  DISPATCH_TIMEOUT_MS: z.coerce.number().int().min(1).default(600_000),
  LOG_LEVEL: z.string().default('info'),
});

/**
 * `node functions/dispatch.ts`: consumes DISPATCH_QUEUE and POSTs each message to
 * DISPATCH_TARGET as Knative's RabbitmqSource would (see docs/distributed.md).
 */
async function run(): Promise<void> {
  if (process.env['AMQP_URL'] === '') delete process.env['AMQP_URL'];
  const r = DispatchSettingsSchema.safeParse(process.env);
  if (!r.success) throw new ConfigError(`invalid settings:\n  ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
  const s = r.data;
  const log = createLogger(s.LOG_LEVEL, { app: 'aiproc-dispatch' });
  const d = await startDispatcher({
    url: s.AMQP_URL,
    queue: s.DISPATCH_QUEUE,
    target: s.DISPATCH_TARGET,
    parallelism: s.DISPATCH_PARALLELISM,
    retry: s.DISPATCH_RETRY,
    backoffPolicy: s.DISPATCH_BACKOFF_POLICY,
    backoffDelayMs: s.DISPATCH_BACKOFF_DELAY_MS,
    timeoutMs: s.DISPATCH_TIMEOUT_MS,
    log,
  });
  process.stdout.write(`dispatching ${s.DISPATCH_QUEUE} → ${s.DISPATCH_TARGET} (parallelism ${s.DISPATCH_PARALLELISM})\n`);
  const stop = async () => {
    await d.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

run().catch((err: unknown) => {
  process.stderr.write(`aiproc-dispatch: ${err instanceof ConfigError ? err.message : `could not start: ${messageOf(err)}`}\n`);
  process.exit(1);
});
