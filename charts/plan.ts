/**
 * Reads synthesised manifests for the build-and-run scripts (both call it, so they agree):
 *   node charts/plan.ts summary <dir>   one line per file: "<file>\t<count> objects: <kinds>"
 *   node charts/plan.ts sources <dir>   one line per RabbitmqSource: "<name>\t<spec hash>"
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SPEC_HASH_ANNOTATION } from './constructs/rabbitmq.ts';

interface Obj {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
}

/** The objects of every `*.k8s.yaml` in a folder, by file, in apply order. */
export function readManifests(dir: string): Array<[string, Obj[]]> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.k8s.yaml'))
    .sort()
    .map((f) => [f, parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean)]);
}

/** @example summaryLines('dist') // ['0001-aiproc-platform.k8s.yaml\t30 objects: 7 Binding, …'] */
export function summaryLines(dir: string): string[] {
  return readManifests(dir).map(([file, objs]) => {
    const counts = new Map<string, number>();
    for (const o of objs) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
    const kinds = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${n} ${k}`);
    return `${file}\t${objs.length} objects: ${kinds.join(', ')}`;
  });
}

/** @example sourceLines('dist') // ['source-results\t3f…'] */
export function sourceLines(dir: string): string[] {
  return readManifests(dir)
    .flatMap(([, objs]) => objs)
    .filter((o) => o.kind === 'RabbitmqSource')
    .map((o) => `${o.metadata.name}\t${o.metadata.annotations?.[SPEC_HASH_ANNOTATION] ?? ''}`);
}

if (import.meta.main) {
  const [what, dir = 'dist'] = process.argv.slice(2);
  const lines = what === 'summary' ? summaryLines(dir) : what === 'sources' ? sourceLines(dir) : undefined;
  if (!lines) {
    console.error('usage: node charts/plan.ts summary|sources <dir>');
    process.exit(2);
  }
  for (const l of lines) console.log(l);
}
