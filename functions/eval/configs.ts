import { ConfigError } from '../lib/errors.ts';

/** One way of answering: the pipeline (maybe with a forced synthesis mode) or one model alone. */
export interface Configuration {
  /** As the user wrote it, for the report. */
  label: string;
  /** The model asked for: `aiproc` or a model slug. */
  model: string;
  /** Extra request headers, e.g. `X-Aiproc-Synthesis: rewrite`. */
  headers: Record<string, string>;
}

const SYNTHESIS = ['stitch', 'rewrite'] as const;

/**
 * Reads a configuration: `aiproc` (the pipeline as the server is set up), `stitch` / `rewrite`
 * (the pipeline with that synthesis forced, header `X-Aiproc-Synthesis`), `aiproc+H=V` (any extra
 * header), or a model slug (`model:<slug>` or just `<slug>`: that model alone).
 * @example parseConfiguration('rewrite', ['codellama-7b']) // { model: 'aiproc', headers: { 'X-Aiproc-Synthesis': 'rewrite' } }
 */
export function parseConfiguration(spec: string, slugs: string[]): Configuration {
  const s = spec.trim();
  if ((SYNTHESIS as readonly string[]).includes(s)) return { label: s, model: 'aiproc', headers: { 'X-Aiproc-Synthesis': s } };
  if (s === 'aiproc') return { label: s, model: 'aiproc', headers: {} };
  if (s.startsWith('aiproc+')) {
    const headers: Record<string, string> = {};
    for (const kv of s.slice('aiproc+'.length).split('+')) {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new ConfigError(`configuration "${spec}": "${kv}" is not HEADER=value`);
      headers[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return { label: s, model: 'aiproc', headers };
  }
  const slug = s.startsWith('model:') ? s.slice('model:'.length) : s;
  if (!slugs.includes(slug))
    throw new ConfigError(`configuration "${spec}" is neither aiproc, stitch, rewrite, aiproc+HEADER=value nor a configured model (models: ${slugs.join(', ')})`);
  return { label: s, model: slug, headers: {} };
}

/**
 * The largest model by the parameter count in its name (`codellama-70b` → 70), the last one
 * listed when no name says: the default baseline and judge.
 * @example largestModel(['codellama-7b', 'codellama-70b', 'codellama-34b']) // 'codellama-70b'
 */
export function largestModel(names: { slug: string; tag?: string }[]): string {
  let best = names.at(-1)!;
  let bestSize = -1;
  for (const n of names) {
    const m = /(\d+(?:\.\d+)?)b(?![a-z])/i.exec(`${n.tag ?? ''} ${n.slug}`);
    const size = m ? Number(m[1]) : -1;
    if (size > bestSize) [best, bestSize] = [n, size];
  }
  return best.slug;
}
