import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

/** A Kubernetes- and queue-safe model name: lowercase letters, digits and dashes. */
const slug = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/, 'a slug is 1-42 lowercase letters, digits or dashes, not starting or ending with a dash');

export const ScalingSchema = z
  .object({
    /** Pods never go below this (Knative min-scale); the design asks for 1. */
    min: z.number().int().min(0).default(1),
    /** Knative max-scale. */
    max: z.number().int().min(1).default(1),
    /** Parts one pod works on at once (Knative containerConcurrency, in-process concurrency limit). */
    concurrency: z.number().int().min(1).default(1),
    /** nvidia.com/gpu per pod; 0 for CPU-only. */
    gpu: z.number().int().min(0).max(8).default(0),
  })
  .strict()
  .refine((s) => s.max >= s.min, { message: 'max must be at least min', path: ['max'] });

export const ModelSchema = z
  .object({
    slug,
    /** The Ollama model tag, e.g. `codellama:7b-instruct`. */
    ollama: z.string().min(1),
    /** What the model is good at, in words the planner reads to route parts. */
    strengths: z.string().min(1),
    /**
     * What the model can do beyond text: `tools` (function calling), `vision` (images), `json`
     * (structured output). Ollama's own report (/api/show) wins where it gives one.
     */
    capabilities: z.array(z.enum(['tools', 'vision', 'json'])).optional(),
    scaling: ScalingSchema.default({ min: 1, max: 1, concurrency: 1, gpu: 0 }),
  })
  .strict();

export const EmbeddedModelSchema = z
  .object({
    $comment: z.string().optional(),
    name: z.string(),
    url: z.url(),
    file: z.string().regex(/\.gguf$/i, 'must name a .gguf file'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).optional(),
    size: z.number().int().positive().optional(),
    contextSize: z.number().int().min(512).default(4096),
    sequences: z.number().int().min(1).max(64).default(4),
  })
  .strict();

export const ModelsConfigSchema = z
  .object({
    $comment: z.string().optional(),
    planner: slug,
    merger: slug,
    maxParts: z.number().int().min(1).max(32).default(6),
    models: z.array(ModelSchema).min(1),
    embedded: EmbeddedModelSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.models.forEach((m, i) => {
      if (seen.has(m.slug)) ctx.addIssue({ code: 'custom', path: ['models', i, 'slug'], message: `duplicate slug "${m.slug}"` });
      seen.add(m.slug);
    });
    for (const role of ['planner', 'merger'] as const) {
      if (!seen.has(cfg[role])) ctx.addIssue({ code: 'custom', path: [role], message: `"${cfg[role]}" is not a configured model slug` });
    }
  });

export type Scaling = z.infer<typeof ScalingSchema>;
export type ModelConfig = z.infer<typeof ModelSchema>;
export type EmbeddedModel = z.infer<typeof EmbeddedModelSchema>;
export type ModelsConfig = z.infer<typeof ModelsConfigSchema>;

/**
 * The Ollama tag of a model slug (the slug itself when it names none).
 * @example ollamaTag(config, 'codellama-7b') // 'codellama:7b-instruct'
 */
export function ollamaTag(config: ModelsConfig, slug: string): string {
  return config.models.find((m) => m.slug === slug)?.ollama ?? slug;
}

/**
 * Validates a models config; the error names the model and the field.
 * @example parseModelsConfig(JSON.parse(text), 'models.json')
 */
export function parseModelsConfig(raw: unknown, origin = 'models config'): ModelsConfig {
  const r = ModelsConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const [head, idx, ...rest] = i.path;
    const where =
      head === 'models' && typeof idx === 'number'
        ? `model ${(raw as { models?: { slug?: string }[] })?.models?.[idx]?.slug ?? `#${idx}`}: ${rest.join('.') || 'entry'}`
        : i.path.join('.') || '(root)';
    return `${where}: ${i.message}`;
  });
  throw new ConfigError(`${origin} is invalid:\n  ${lines.join('\n  ')}`);
}

/**
 * Reads and validates the models config file (default `models.json` at the project root).
 * @example const cfg = loadModelsConfig(settings.AIPROC_MODELS_FILE)
 */
export function loadModelsConfig(file: string): ModelsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the models config ${file} (AIPROC_MODELS_FILE): ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the models config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseModelsConfig(raw, file);
}
