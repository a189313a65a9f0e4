import type { ModelsConfig } from '../config/models.ts';
import type { ModelClient } from './types.ts';

/** What a model can do beyond plain text. */
export type Capability = 'tools' | 'vision' | 'json';

const cache = new WeakMap<ModelClient, Map<string, { at: number; caps: Promise<Set<Capability>> }>>();
const TTL_MS = 60_000;

/**
 * A configured model's capabilities: what its backend reports (Ollama's /api/show: `tools`,
 * `vision`; JSON output works on every Ollama model through `format`), else what the models
 * config says, else JSON only. Cached a minute per client, so a pulled model is seen soon.
 * @example if (!(await capabilitiesOf(config, client, 'codellama-7b')).has('tools')) …
 */
export function capabilitiesOf(config: ModelsConfig, client: ModelClient, slug: string): Promise<Set<Capability>> {
  let perClient = cache.get(client);
  if (!perClient) cache.set(client, (perClient = new Map()));
  const hit = perClient.get(slug);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.caps;
  const m = config.models.find((x) => x.slug === slug);
  const configured = new Set<Capability>(m?.capabilities ?? ['json']);
  const caps = (client.capabilities ? client.capabilities(m?.ollama ?? slug) : Promise.resolve(undefined)).then(
    (reported) => (reported ? new Set(reported) : configured),
    () => configured,
  );
  perClient.set(slug, { at: Date.now(), caps });
  return caps;
}
