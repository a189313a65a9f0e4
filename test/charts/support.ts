import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { App, Testing } from 'cdk8s';
import { parse } from 'yaml';
import { ChartEnvSchema, chartConfigOf, type ChartConfig } from '../../charts/config.ts';
import { buildCharts } from '../../charts/main.ts';
import { parseModelsConfig } from '../../functions/lib/config/models.ts';

/** The project root and the CRDs it keeps (crds/, the files cdk8s.yaml imports). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CRDS = join(ROOT, 'crds');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** A chart config from the project's models.json plus env overrides. */
export function configWith(env: Record<string, string> = {}, models?: unknown): ChartConfig {
  const raw = models ?? JSON.parse(readFileSync(join(ROOT, 'models.json'), 'utf8'));
  return chartConfigOf(parseModelsConfig(raw), ChartEnvSchema.parse(env));
}

/** Every object the charts synthesise for a config, in apply order. */
export function synthAll(cfg: ChartConfig): K8sObject[] {
  const app: App = Testing.app();
  buildCharts(app, cfg, ROOT);
  return app.charts.flatMap((c) => Testing.synth(c) as K8sObject[]);
}

/** The id of an object, for messages. */
export const idOf = (o: K8sObject) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

/**
 * A CRD's `openAPIV3Schema` made strict the way `kubectl --validate=strict` is: a field the schema
 * does not name is an error, except under `x-kubernetes-preserve-unknown-fields`.
 */
function strict(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'enum' || k === 'default' || k === 'example' ? v : strict(v);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

let crdValidators: Map<string, ValidateFunction> | undefined;

/** Validators for every CRD in crds/, by `group/version Kind`. */
export function crdValidatorMap(): Map<string, ValidateFunction> {
  if (crdValidators) return crdValidators;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  crdValidators = new Map();
  for (const file of readdirSync(CRDS).filter((f) => f.endsWith('.yaml'))) {
    const crd = parse(readFileSync(join(CRDS, file), 'utf8'));
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions) {
      crdValidators.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(strict(v.schema.openAPIV3Schema)));
    }
  }
  return crdValidators;
}

/** The kubernetes-models class of a core object (apiVersion `v1`, `apps/v1`, `storage.k8s.io/v1`…). */
async function coreModel(o: K8sObject): Promise<{ validate(): void } | undefined> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/${version}/${o.kind}`;
  try {
    const mod = await import(path);
    return new mod[o.kind](o);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * Validates one object against its real schema: a CRD from crds/, or the Kubernetes API
 * schema shipped by kubernetes-models. Returns the problems (empty = valid); an object with no
 * known schema is a problem too, so nothing passes unchecked.
 */
export async function schemaProblems(o: K8sObject): Promise<string[]> {
  const crd = crdValidatorMap().get(`${o.apiVersion} ${o.kind}`);
  if (crd) {
    return crd(o) ? [] : (crd.errors ?? []).map((e) => `${idOf(o)}: ${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${e.params.additionalProperty})` : ''}`);
  }
  const model = await coreModel(o);
  if (!model) return [`${idOf(o)}: no schema known for this kind`];
  try {
    model.validate();
    return [];
  } catch (err) {
    return [`${idOf(o)}: ${(err as Error).message}`];
  }
}
