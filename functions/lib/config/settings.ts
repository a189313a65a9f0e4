import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

const csv = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const url = (what: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || URL.canParse(v), { message: `${what} must be a URL` });

/**
 * Every setting, from the environment (and an optional `.env`), validated once at start.
 * The README's settings table mirrors this object: keep them together.
 */
export const SettingsSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  AIPROC_DATA_DIR: z.string().default('./data'),
  AIPROC_MODELS_FILE: z.string().default('./models.json'),
  OLLAMA_HOST: z.string().default('http://127.0.0.1:11434'),
  /** A GGUF file for the embedded engine; wins over Ollama when set. */
  AIPROC_MODEL: z.string().optional(),
  DATABASE_URL: url('DATABASE_URL'),
  AMQP_URL: url('AMQP_URL'),
  SUPABASE_URL: url('SUPABASE_URL'),
  SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
  /** Users' bearer keys (`key` or `name:key`): chat, and read their own jobs. Open when no keys of any role are set. */
  AIPROC_API_KEYS: csv,
  /** Administrators' keys (`key` or `name:key`): every job, the rules API. */
  AIPROC_ADMIN_KEYS: csv,
  /** Trusted front ends' keys (OpenWebUI): may name their end user with X-OpenWebUI-User-Id. */
  AIPROC_GATEWAY_KEYS: csv,
  /** Serve the API on a non-loopback HOST with no keys at all (anyone who reaches it is admin). */
  AIPROC_ALLOW_OPEN: z.stringbool().default(false),
  /** Bearer tokens accepted by the feedback function's HTTP endpoint. */
  AIPROC_FEEDBACK_TOKENS: csv,
  /** Standard Webhooks secrets (`whsec_…`) accepted by the feedback function; several for rotation. */
  AIPROC_WEBHOOK_SECRETS: csv,
  /**
   * HMAC keys for the events between functions (comma-separated, 32+ characters each): the first
   * signs, any verifies, so a new key goes first and the old one stays listed until every process
   * has the new list. Required by `npm run serve`; `npm run cluster` makes one per run when unset.
   */
  AIPROC_EVENT_KEYS: csv,
  /** Every lifecycle event is also POSTed here as a CloudEvent (binary mode), for n8n without RabbitMQ access. */
  AIPROC_EVENTS_WEBHOOK_URL: url('AIPROC_EVENTS_WEBHOOK_URL'),
  /** Sent as `Authorization: Bearer …` with each events-webhook POST (n8n Webhook node: Header Auth). */
  AIPROC_EVENTS_WEBHOOK_TOKEN: z.string().optional(),
  AIPROC_MAX_PARTS: z.coerce.number().int().min(1).max(32).optional(),
  /** Attempts per part before it becomes task.failed. */
  AIPROC_TASK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** First retry delay in ms; doubles each attempt. */
  AIPROC_RETRY_DELAY_MS: z.coerce.number().int().min(0).default(500),
  /** Largest request body accepted, in bytes. */
  AIPROC_BODY_LIMIT: z.coerce.number().int().min(1024).default(1_000_000),
  /** How long a merger's claim on a synthesis lasts before another may take over (crash recovery). */
  AIPROC_SYNTHESIS_LEASE_S: z.coerce.number().int().min(1).default(120),
  /** An unfinished job with no change for this long has lost its work and is failed visibly. */
  AIPROC_JOB_TIMEOUT_S: z.coerce.number().int().min(10).default(1800),
  /** Largest answer a model may write for one part or the synthesis, in tokens. */
  AIPROC_MAX_TOKENS: z.coerce.number().int().min(16).default(1024),
  /**
   * How a split job's answer is put together: `stitch` (the part answers verbatim, part 1 streamed
   * as it is written, short joins by the merger model), `rewrite` (the merger model writes one new
   * text from them), `auto` (the planner decides). A request's `X-Aiproc-Synthesis` header wins.
   */
  AIPROC_SYNTHESIS: z.enum(['auto', 'stitch', 'rewrite']).default('auto'),
  /** Unfinished jobs one key (a gateway: one end user) may have at once; more is a 429. 0 = no limit. Not in open mode. */
  AIPROC_MAX_JOBS_PER_KEY: z.coerce.number().int().min(0).default(8),
  /** Tokens one key (a gateway: one end user) may use in 24 hours; more is a 429. 0 = no limit. Not in open mode. */
  AIPROC_MAX_TOKENS_PER_DAY: z.coerce.number().int().min(0).default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Settings = z.infer<typeof SettingsSchema>;

/**
 * Reads settings from `env` (loading `.env` from the working directory first, if present),
 * failing with one message that names each bad setting.
 * @example const settings = loadSettings()
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, { dotenv = true } = {}): Settings {
  if (dotenv && env === process.env && existsSync('.env')) process.loadEnvFile('.env');
  const r = SettingsSchema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid settings:\n  ${lines.join('\n  ')}`);
  }
  const s = r.data;
  return { ...s, AIPROC_DATA_DIR: resolve(s.AIPROC_DATA_DIR), AIPROC_MODELS_FILE: resolve(s.AIPROC_MODELS_FILE) };
}

/**
 * The tokens a part may write: what was asked for, never more than AIPROC_MAX_TOKENS (a client,
 * or an event, can lower the budget, never raise it).
 * @example tokenBudget(settings, 10 ** 12) // settings.AIPROC_MAX_TOKENS
 */
export function tokenBudget(settings: Pick<Settings, 'AIPROC_MAX_TOKENS'>, requested?: number | null): number {
  return Math.min(requested ?? settings.AIPROC_MAX_TOKENS, settings.AIPROC_MAX_TOKENS);
}
