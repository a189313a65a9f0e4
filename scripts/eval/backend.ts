import OpenAI from 'openai';
import { startEmbedded } from '../../functions/embedded.ts';
import { ollamaTag, type ModelsConfig } from '../../functions/lib/config/models.ts';
import type { Settings } from '../../functions/lib/config/settings.ts';
import { ConfigError, messageOf } from '../../functions/lib/errors.ts';
import type { Logger } from '../../functions/lib/log.ts';
import { OllamaClient } from '../../functions/lib/models/ollama.ts';
import { resolveModelClient } from '../../functions/lib/models/resolve.ts';
import { modelJudge, type AskJudge } from '../../functions/eval/judge.ts';

/** Where the eval sends its questions, and how it asks the judge. */
export interface Backend {
  /** The aiproc API (OpenAI-compatible). */
  client: OpenAI;
  /** The models it serves by slug, with their Ollama tags when known. */
  models: { slug: string; tag?: string }[];
  /** Asks `model` (a slug) as the judge. */
  judge: (model: string) => AskJudge;
  /** One line for the report: which backend answered. */
  describe: string;
  /** Checks that every model the run needs is there; a ConfigError naming the missing ones otherwise. */
  check(slugs: string[]): Promise<void>;
  close(): Promise<void>;
}

const JUDGE_TOKENS = 256;

/**
 * A running aiproc at `url` (npm start, the cluster, Kubernetes): questions and the judge go
 * through its API; the judge is asked as a single model (`model: <slug>`).
 * @example const backend = await remoteBackend('http://127.0.0.1:8080', process.env.AIPROC_API_KEY)
 */
export async function remoteBackend(url: string, key?: string): Promise<Backend> {
  const client = new OpenAI({ baseURL: `${url.replace(/\/+$/, '')}/v1`, apiKey: key ?? 'none', maxRetries: 0, timeout: 30 * 60_000 });
  let ids: string[];
  try {
    ids = (await client.models.list()).data.map((m) => m.id);
  } catch (err) {
    // The SDK says "Connection error."; the reason (ECONNREFUSED, ENOTFOUND) is at the end of the causes.
    let why: string | undefined;
    for (let c = (err as { cause?: unknown }).cause as { cause?: unknown; code?: string; message?: string } | undefined; c; c = c.cause as typeof c) why = c.code ?? c.message ?? why;
    throw new ConfigError(`cannot reach aiproc at ${url} (--url): ${messageOf(err)}${why ? ` ${why}` : ''}${/401/.test(messageOf(err)) ? ' (give its API key with --key or AIPROC_API_KEY)' : ''}`);
  }
  const models = ids.filter((id) => id !== 'aiproc').map((slug) => ({ slug }));
  return {
    client,
    models,
    describe: `aiproc at ${url}`,
    judge: (model) => async (messages) => {
      const res = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: JUDGE_TOKENS, stream: false, user: 'aiproc-eval' });
      return res.choices[0]?.message?.content ?? '';
    },
    async check(slugs) {
      const missing = slugs.filter((s) => !ids.includes(s));
      if (missing.length)
        throw new ConfigError(`aiproc at ${url} does not serve ${missing.map((m) => `"${m}"`).join(', ')} (it serves ${ids.join(', ')}): add the model to its models.json, or pick another with --baseline / --judge`);
    },
    close: async () => {},
  };
}

/**
 * aiproc started inside this process, as `npm start` would (the same model resolution: AIPROC_MODEL,
 * Ollama, a GGUF in the data folder, the default download), on a free local port. The judge
 * calls the model client directly, held to the verdict's JSON schema, with no rules applied.
 * @example const backend = await embeddedBackend(settings, config, log)
 */
export async function embeddedBackend(settings: Settings, config: ModelsConfig, log: Logger): Promise<Backend> {
  let model: Awaited<ReturnType<typeof resolveModelClient>> | undefined;
  const app = await startEmbedded({
    // Loopback only, on a free port, for this process alone: no keys, so the eval is administrator.
    settings: { ...settings, HOST: '127.0.0.1', PORT: 0, AIPROC_API_KEYS: [], AIPROC_GATEWAY_KEYS: [], AIPROC_ADMIN_KEYS: [] },
    config,
    log,
    model: async () => (model = await resolveModelClient(settings, config, log)).client,
  });
  const client = new OpenAI({ baseURL: `${app.runtime.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 30 * 60_000 });
  const chat = app.model;
  return {
    client,
    models: config.models.map((m) => ({ slug: m.slug, tag: m.ollama })),
    describe: `in-process aiproc on ${model!.description}`,
    judge: (slug) => modelJudge(chat, ollamaTag(config, slug), JUDGE_TOKENS),
    async check(slugs) {
      const unknown = slugs.filter((s) => !config.models.some((m) => m.slug === s));
      if (unknown.length) throw new ConfigError(`${unknown.join(', ')}: not in the models config ${settings.AIPROC_MODELS_FILE} (models: ${config.models.map((m) => m.slug).join(', ')})`);
      if (chat.backend !== 'ollama') return; // the embedded engine answers every slug with its one model
      const have = (await OllamaClient.probe(settings.OLLAMA_HOST, 5000)) ?? [];
      const missing = slugs.map((s) => ollamaTag(config, s)).filter((tag) => !have.includes(tag) && !have.includes(`${tag}:latest`));
      if (missing.length)
        throw new ConfigError(`Ollama at ${settings.OLLAMA_HOST} does not have ${missing.join(', ')}; pull ${missing.length > 1 ? 'them' : 'it'} first: ${missing.map((t) => `ollama pull ${t}`).join(' && ')}`);
    },
    close: () => app.close(),
  };
}
