import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../functions/lib/errors.ts';
import { SettingsSchema } from '../functions/lib/config/settings.ts';
import { parseModelsConfig, type ModelConfig, type ModelsConfig } from '../functions/lib/config/models.ts';

/** The RabbitMQ source's `parallelism` is 1..1000 (its CRD); parallelism = max-scale × concurrency. */
export const MAX_SOURCE_PARALLELISM = 1000;

const flag = z
  .string()
  .optional()
  .transform((v) => ['1', 'true', 'yes', 'on'].includes((v ?? '').trim().toLowerCase()));

const csv = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

/**
 * What `cdk8s synth` reads from the environment (the build-and-run scripts set these from their
 * parameters). Everything else comes from the models config, so the same input gives the same bytes.
 */
export const ChartEnvSchema = z.object({
  /** The one namespace everything lives in. */
  AIPROC_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/).default('aiproc'),
  /** The models config (same file the runtime reads). */
  AIPROC_MODELS_FILE: z.string().default('models.json'),
  /** Only these slugs (comma-separated) get an inference service; empty = every configured model. */
  AIPROC_MODELS: csv,
  /** No GPU anywhere: every model runs on CPU, no device plugin, no GPU tolerations. */
  AIPROC_CPU_ONLY: flag,
  /** Tag of the functions image built from images/ (the scripts pass a content hash). */
  AIPROC_IMAGE_TAG: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/).default('dev'),
  /** Time-slicing: how many pods may share one GPU (1 = no sharing). */
  AIPROC_GPU_SHARING: z.coerce.number().int().min(1).max(16).default(1),
  /** The provisioner of the expandable StorageClass (Docker Desktop: docker.io/hostpath). */
  AIPROC_STORAGE_PROVISIONER: z.string().min(1).default('docker.io/hostpath'),
  /** Access mode of the shared model cache; a multi-node cluster needs ReadWriteMany. */
  AIPROC_MODEL_CACHE_ACCESS: z.enum(['ReadWriteOnce', 'ReadWriteMany']).default('ReadWriteOnce'),
  /** External Supabase: its URL (the key goes in the Secret). Empty = Supabase Postgres in the cluster. */
  AIPROC_SUPABASE_URL: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || URL.canParse(v), { message: 'must be a URL' }),
  /** How the functions reach the in-cluster database: supabase-js through the gateway, or SQL. */
  AIPROC_STORE: z.enum(['supabase', 'postgres']).default('supabase'),
  /** Attempts per event (the runtime's setting): the RabbitMQ sources retry attempts − 1 times. */
  AIPROC_TASK_ATTEMPTS: SettingsSchema.shape.AIPROC_TASK_ATTEMPTS,
  /** First retry delay in ms (the runtime's setting): the sources' exponential back-off starts there. */
  AIPROC_RETRY_DELAY_MS: SettingsSchema.shape.AIPROC_RETRY_DELAY_MS,
  /** Also deploy Prometheus (scraping every function's /metrics) and Grafana with the aiproc dashboard. */
  AIPROC_MONITORING: flag,
  /** An OTLP/HTTP endpoint every function sends its traces to (OTEL_EXPORTER_OTLP_ENDPOINT); empty = tracing off. */
  AIPROC_OTLP_ENDPOINT: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || URL.canParse(v), { message: 'must be a URL' }),
  /**
   * Give OpenWebUI and n8n LoadBalancer Services (reachable from outside the cluster wherever
   * the cluster publishes load balancers). Default: ClusterIP, reached through port-forward.
   */
  AIPROC_EXPOSE_UI: flag,
  /** A node label (key=value) GPU pods must run on; empty = any node with a GPU. */
  AIPROC_GPU_NODE_SELECTOR: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || /^[^=]+=[^=]*$/.test(v), { message: 'must be key=value' }),
});

export type ChartEnv = z.infer<typeof ChartEnvSchema>;

/** A model as the charts deploy it: its GPU count already reduced to 0 in CPU-only mode. */
export interface DeployedModel extends ModelConfig {
  /** Roles it serves besides inference (`planner`, `merger`): its Ollama is reachable by a Service. */
  readonly roles: readonly ('planner' | 'merger')[];
}

/** Everything the charts are built from. */
export interface ChartConfig {
  readonly env: ChartEnv;
  readonly models: ModelsConfig;
  readonly deployed: readonly DeployedModel[];
  readonly gpu: boolean;
}

/**
 * Checks that only matter in the cluster, on top of `parseModelsConfig` (which already rejects a
 * duplicate slug, max below min and an unknown or malformed GPU setting). Each message names the
 * model and the field, as the runtime's loader does.
 * @example clusterProblems(parseModelsConfig(raw)) // ['model codellama-7b: scaling.min: …']
 */
export function clusterProblems(cfg: ModelsConfig, only: readonly string[] = []): string[] {
  const problems: string[] = [];
  const slugs = new Set(cfg.models.map((m) => m.slug));
  for (const m of cfg.models) {
    const s = m.scaling;
    if (s.min < 1) problems.push(`model ${m.slug}: scaling.min: must be at least 1 in the cluster (one pod per model stays up)`);
    if (s.max * s.concurrency > MAX_SOURCE_PARALLELISM) {
      problems.push(`model ${m.slug}: scaling.max: max × concurrency = ${s.max * s.concurrency} exceeds the RabbitMQ source's parallelism limit ${MAX_SOURCE_PARALLELISM}`);
    }
  }
  for (const slug of only) if (!slugs.has(slug)) problems.push(`AIPROC_MODELS: "${slug}" is not a configured model slug`);
  if (only.length > 0) {
    for (const role of ['planner', 'merger'] as const) {
      if (!only.includes(cfg[role])) problems.push(`AIPROC_MODELS: leaves out ${cfg[role]}, the ${role} model`);
    }
  }
  return problems;
}

/**
 * Reads the chart settings and the models config, failing with one message per problem.
 * @example const cfg = loadChartConfig(process.env)
 */
export function loadChartConfig(environment: NodeJS.ProcessEnv = process.env, root = process.cwd()): ChartConfig {
  const r = ChartEnvSchema.safeParse(environment);
  if (!r.success) {
    throw new ConfigError(`invalid chart settings:\n  ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
  }
  const env = r.data;
  const file = resolve(root, env.AIPROC_MODELS_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the models config ${file}: ${(err as Error).message}`);
  }
  return chartConfigOf(parseModelsConfig(raw, env.AIPROC_MODELS_FILE), env);
}

/**
 * The chart config of an already parsed models config (tests use it directly).
 * @example chartConfigOf(parseModelsConfig(raw), ChartEnvSchema.parse({}))
 */
export function chartConfigOf(models: ModelsConfig, env: ChartEnv): ChartConfig {
  const problems = clusterProblems(models, env.AIPROC_MODELS);
  if (problems.length > 0) throw new ConfigError(`${env.AIPROC_MODELS_FILE} cannot be deployed:\n  ${problems.join('\n  ')}`);
  const chosen = env.AIPROC_MODELS.length > 0 ? models.models.filter((m) => env.AIPROC_MODELS.includes(m.slug)) : models.models;
  const deployed = chosen.map((m) => ({
    ...m,
    scaling: { ...m.scaling, gpu: env.AIPROC_CPU_ONLY ? 0 : m.scaling.gpu },
    roles: (['planner', 'merger'] as const).filter((r) => models[r] === m.slug),
  }));
  return { env, models, deployed, gpu: deployed.some((m) => m.scaling.gpu > 0) };
}
