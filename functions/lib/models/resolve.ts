import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelsConfig } from '../config/models.ts';
import type { Settings } from '../config/settings.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { downloadModel } from './download.ts';
import { OllamaClient } from './ollama.ts';
import type { ModelClient } from './types.ts';

export interface ResolvedModel {
  client: ModelClient;
  /** One line for the start banner: which backend, which model, and why it was chosen. */
  description: string;
}

/** Side effects, passed in so tests can replace them. */
export interface ResolveDeps {
  probeOllama?: (host: string, timeoutMs: number) => Promise<string[] | null>;
  ollama?: (host: string) => ModelClient;
  loadEmbedded?: (modelPath: string, opts: { contextSize: number; sequences: number; log: Logger }) => Promise<ModelClient>;
  download?: typeof downloadModel;
  /** How long to wait for Ollama to answer. @default 1500 */
  probeTimeoutMs?: number;
}

/** The GGUF files in a folder, the configured default first. */
function ggufsIn(dir: string, preferred?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.gguf')).sort();
  } catch {
    return [];
  }
  if (preferred && names.includes(preferred)) names = [preferred, ...names.filter((n) => n !== preferred)];
  return names.map((n) => join(dir, n));
}

/**
 * Picks the model client, in this order, logging each step: `AIPROC_MODEL` (a GGUF file) →
 * Ollama at `OLLAMA_HOST` if it answers → a `*.gguf` in `<AIPROC_DATA_DIR>/models/` → download of
 * the models config's `embedded` model into that folder → a ConfigError saying how to point at a
 * model. A model file that cannot be loaded is a ConfigError naming it (no fallback past a
 * broken file the user chose).
 * @example const { client, description } = await resolveModelClient(settings, modelsConfig, log)
 */
export async function resolveModelClient(settings: Settings, config: ModelsConfig, log: Logger, deps: ResolveDeps = {}): Promise<ResolvedModel> {
  const embedded = { contextSize: config.embedded?.contextSize ?? 4096, sequences: config.embedded?.sequences ?? 4, log: log.child({ component: 'llama' }) };
  // node-llama-cpp (~50 MB of bindings and code) is loaded only when the embedded engine is chosen.
  const loadEmbedded = deps.loadEmbedded ?? (async (modelPath, opts) => (await import('./llama.ts')).LlamaCppClient.load({ modelPath, ...opts }));
  const probe = deps.probeOllama ?? ((host, ms) => OllamaClient.probe(host, ms));
  const ollama = deps.ollama ?? ((host) => new OllamaClient({ host }));
  const step = (msg: string, extra: Record<string, unknown> = {}) => log.info({ step: 'model', ...extra }, msg);
  const use = (client: ModelClient, why: string): ResolvedModel => {
    const description = `${client.describe()} (${why})`;
    step(`model: ${description}`);
    return { client, description };
  };

  // 1. An explicit file wins.
  if (settings.AIPROC_MODEL) {
    step(`model: loading AIPROC_MODEL=${settings.AIPROC_MODEL}`);
    return use(await loadEmbedded(settings.AIPROC_MODEL, embedded), 'from AIPROC_MODEL');
  }
  step('model: AIPROC_MODEL is not set');

  // 2. A running Ollama.
  const host = settings.OLLAMA_HOST;
  const models = await probe(host, deps.probeTimeoutMs ?? 1500);
  if (models) {
    step(`model: Ollama answers at ${host} with ${models.length} model(s)`, { models });
    return use(ollama(host), `Ollama at OLLAMA_HOST=${host}`);
  }
  step(`model: no Ollama answers at ${host} (OLLAMA_HOST)`);

  // 3. A GGUF already in the data folder.
  const dir = join(settings.AIPROC_DATA_DIR, 'models');
  const [found] = ggufsIn(dir, config.embedded?.file);
  if (found) {
    step(`model: loading ${found}`);
    return use(await loadEmbedded(found, embedded), `found in ${dir}`);
  }
  step(`model: no .gguf file in ${dir}`);

  // 4. Download the configured small default.
  const howTo = `Set AIPROC_MODEL=/path/to/model.gguf, put a .gguf file into ${dir}, or start Ollama (or point OLLAMA_HOST at one).`;
  if (!config.embedded) throw new ConfigError(`no model to run: the models config names no embedded model to download. ${howTo}`);
  step(`model: downloading ${config.embedded.name} from ${config.embedded.url} into ${dir}`);
  let file: string;
  try {
    file = await (deps.download ?? downloadModel)(config.embedded, { dir });
  } catch (err) {
    throw new ConfigError(`no model to run: ${(err as Error).message}. ${howTo}`);
  }
  return use(await loadEmbedded(file, embedded), `downloaded into ${dir}`);
}
