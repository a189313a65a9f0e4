import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Exchanges } from '../../functions/lib/bus/topology.ts';
import { parseModelsConfig } from '../../functions/lib/config/models.ts';
import { BUILT_IMAGES, OfficialImages } from '../../charts/images.ts';
import { SECRET_NAME, SecretKeys } from '../../charts/secrets.ts';
import { configWith, idOf, ROOT, synthAll, type K8sObject } from './support.ts';

const cfg = configWith();
const objects = synthAll(cfg);
const ofKind = (apiVersion: string, kind: string) => objects.filter((o) => o.apiVersion === apiVersion && o.kind === kind);
const ksvcs = ofKind('serving.knative.dev/v1', 'Service');
const sources = ofKind('sources.knative.dev/v1alpha1', 'RabbitmqSource');
const queues = ofKind('rabbitmq.com/v1beta1', 'Queue');
const bindings = ofKind('rabbitmq.com/v1beta1', 'Binding');
const exchanges = ofKind('rabbitmq.com/v1beta1', 'Exchange');

/** Every pod template in the output (Knative revisions, workloads, Jobs), with its owner. */
function podSpecs(): Array<{ owner: K8sObject; spec: any }> {
  return objects.flatMap((o) => {
    if (o.apiVersion === 'serving.knative.dev/v1') return [{ owner: o, spec: o.spec.template.spec }];
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind)) return [{ owner: o, spec: o.spec.template.spec }];
    return [];
  });
}
const containersOf = (spec: any): any[] => [...(spec.initContainers ?? []), ...spec.containers];

describe('the charts hold together', () => {
  it("every source's sink is a synthesised Knative Service in the same namespace", () => {
    // GIVEN the sources and the Knative Services
    assert.ok(sources.length >= cfg.deployed.length + 2);
    for (const s of sources) {
      const ref = s.spec.sink.ref;
      // WHEN the sink is looked up
      const target = ksvcs.find((k) => k.metadata.name === ref.name && k.metadata.namespace === (ref.namespace ?? s.metadata.namespace));
      // THEN it exists and is referred to as a Knative Service
      assert.ok(target, `${idOf(s)}: sink ${ref.name} is not a synthesised Knative Service`);
      assert.equal(ref.apiVersion, 'serving.knative.dev/v1');
      assert.equal(ref.kind, 'Service');
    }
  });

  it('every queue a source reads is predeclared, with a dead-letter exchange', () => {
    const dlx = exchanges.find((e) => e.spec.name === Exchanges.dead);
    assert.ok(dlx, 'the dead-letter exchange is declared');
    // A parking queue on the dead-letter exchange keeps a copy of every dead letter.
    assert.ok(bindings.some((b) => b.spec.source === Exchanges.dead && b.spec.destination === 'aiproc.dead'));
    for (const s of sources) {
      // GIVEN a source that reads a predeclared queue
      const rc = s.spec.rabbitmqResourcesConfig;
      assert.equal(rc.predeclared, true, `${idOf(s)} is not predeclared`);
      // WHEN its queue is looked up among the topology objects
      const q = queues.find((x) => x.spec.name === rc.queueName);
      assert.ok(q, `${idOf(s)}: queue ${rc.queueName} is not declared`);
      // THEN a failed delivery (nack without requeue) dead-letters instead of vanishing
      assert.equal(q.spec.arguments['x-dead-letter-exchange'], Exchanges.dead, `${rc.queueName} has no dead-letter exchange`);
      assert.equal(q.spec.arguments['x-dead-letter-strategy'], 'at-least-once');
      assert.equal(q.spec.arguments['x-overflow'], 'reject-publish');
      assert.equal(q.spec.type, 'quorum');
      assert.ok(Number(q.spec.arguments['x-delivery-limit']) > 0);
      // AND the queue is bound to an exchange that is declared
      const bound = bindings.filter((b) => b.spec.destination === rc.queueName);
      assert.ok(bound.length > 0, `${rc.queueName} is bound to nothing`);
      for (const b of bound) assert.ok(exchanges.some((e) => e.spec.name === b.spec.source), `${rc.queueName}: exchange ${b.spec.source} is not declared`);
    }
  });

  it('every model has exactly one inference service, min-scale "1", scaled and fed as its config says', () => {
    for (const m of cfg.deployed) {
      // GIVEN a configured model
      // WHEN its inference services are collected
      const mine = ksvcs.filter((k) => k.metadata.labels?.['aiproc.dev/model'] === m.slug);
      // THEN there is exactly one, never scaled below one pod
      assert.equal(mine.length, 1, `${m.slug}: ${mine.length} inference services`);
      const t = mine[0]!.spec.template;
      assert.equal(t.metadata.annotations['autoscaling.knative.dev/min-scale'], '1');
      assert.equal(t.metadata.annotations['autoscaling.knative.dev/max-scale'], String(m.scaling.max));
      assert.equal(t.spec.containerConcurrency, m.scaling.concurrency);
      // AND its source never has more in flight than its pods can take
      const src = sources.filter((s) => s.spec.sink.ref.name === mine[0]!.metadata.name);
      assert.equal(src.length, 1);
      assert.equal(src[0]!.spec.rabbitmqResourcesConfig.queueName, `aiproc.tasks.${m.slug}`);
      assert.equal(src[0]!.spec.rabbitmqResourcesConfig.parallelism, m.scaling.max * m.scaling.concurrency);
      // AND the GPU goes to the Ollama container that runs the model
      const ollama = t.spec.containers.find((c: any) => c.name === 'ollama');
      assert.equal(ollama.resources.limits['nvidia.com/gpu'], m.scaling.gpu > 0 ? String(m.scaling.gpu) : undefined);
    }
  });

  it('every source caps its deliveries at max-scale × concurrency of its sink', () => {
    for (const s of sources) {
      const sink = ksvcs.find((k) => k.metadata.name === s.spec.sink.ref.name)!;
      const t = sink.spec.template;
      const max = Number(t.metadata.annotations['autoscaling.knative.dev/max-scale']);
      assert.equal(s.spec.rabbitmqResourcesConfig.parallelism, max * t.spec.containerConcurrency, idOf(s));
    }
  });

  it('CPU-only drops every GPU request and the device plugin', () => {
    // GIVEN the CPU-only switch
    const cpu = synthAll(configWith({ AIPROC_CPU_ONLY: 'true' }));
    // WHEN the output is searched for GPUs
    const text = JSON.stringify(cpu);
    // THEN none is asked for
    assert.doesNotMatch(text, /nvidia\.com\/gpu"?:/);
    assert.ok(!cpu.some((o) => o.kind === 'DaemonSet'));
  });

  it('every image is built from images/ or is a pinned official image', () => {
    const official = new Set<string>(Object.values(OfficialImages));
    for (const { owner, spec } of podSpecs()) {
      for (const c of containersOf(spec)) {
        // GIVEN an image a container runs
        const image: string = c.image;
        const repo = image.slice(0, image.lastIndexOf(':'));
        // THEN it is ours (and its Dockerfile exists) or a named, version-pinned upstream image
        if (BUILT_IMAGES[repo]) {
          assert.ok(existsSync(join(ROOT, BUILT_IMAGES[repo]!)), `${BUILT_IMAGES[repo]} is missing`);
          assert.equal(c.imagePullPolicy, 'IfNotPresent', `${idOf(owner)}: a local image must not be pulled`);
        } else {
          assert.ok(official.has(image), `${idOf(owner)}: ${image} is neither built from images/ nor an official image`);
          assert.doesNotMatch(image, /:latest$|^[^:]+$/, `${image} is not pinned`);
        }
      }
    }
  });

  it('every container has CPU and memory requests and limits, and the RabbitMQ cluster too', () => {
    for (const { owner, spec } of podSpecs()) {
      for (const c of containersOf(spec)) {
        for (const kind of ['requests', 'limits']) {
          for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `${idOf(owner)} ${c.name}: no ${kind}.${r}`);
        }
      }
    }
    const rmq = objects.find((o) => o.kind === 'RabbitmqCluster')!;
    assert.ok(rmq.spec.resources.requests.memory && rmq.spec.resources.limits.memory);
  });

  it('secrets are referenced, never written: only known keys, and $(VAR) only after VAR', () => {
    // GIVEN every Secret reference in the output
    assert.ok(!objects.some((o) => o.kind === 'Secret'), 'no Secret object is synthesised');
    const keys = new Set<string>(Object.values(SecretKeys));
    for (const { owner, spec } of podSpecs()) {
      for (const c of containersOf(spec)) {
        const seen = new Set<string>();
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          // THEN each names the aiproc Secret with a key the generator writes, or the operator's user Secret
          if (ref) assert.ok((ref.name === SECRET_NAME && keys.has(ref.key)) || ref.name.endsWith('-default-user'), `${idOf(owner)}: ${ref.name}/${ref.key}`);
          // AND a value built from other variables only uses ones defined before it
          for (const [, v] of String(e.value ?? '').matchAll(/\$\(([A-Z0-9_]+)\)/g)) assert.ok(seen.has(v!), `${idOf(owner)} ${c.name}: ${e.name} uses $(${v}) before it is set`);
          seen.add(e.name);
        }
      }
    }
  });

  it('every volume, config map and claim a pod uses is synthesised (or made by an operator)', () => {
    const names = (kind: string) => new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata.name));
    const claims = names('PersistentVolumeClaim');
    const configMaps = names('ConfigMap');
    for (const { owner, spec } of podSpecs()) {
      for (const v of spec.volumes ?? []) {
        if (v.persistentVolumeClaim) assert.ok(claims.has(v.persistentVolumeClaim.claimName), `${idOf(owner)}: claim ${v.persistentVolumeClaim.claimName}`);
        if (v.configMap) assert.ok(configMaps.has(v.configMap.name), `${idOf(owner)}: config map ${v.configMap.name}`);
      }
    }
  });

  it('the planner and merger reach an Ollama that has their model', () => {
    for (const [fn, role] of [['splitter', 'planner'], ['merger', 'merger']] as const) {
      // GIVEN the function's OLLAMA_HOST
      const svc = ksvcs.find((k) => k.metadata.name === fn)!;
      const host = svc.spec.template.spec.containers[0].env.find((e: any) => e.name === 'OLLAMA_HOST').value as string;
      // WHEN the Service it names is followed to its pods
      const name = new URL(host).hostname.split('.')[0];
      const service = objects.find((o) => o.kind === 'Service' && o.apiVersion === 'v1' && o.metadata.name === name);
      assert.ok(service, `${fn}: ${host} names no Service`);
      // THEN they are the inference pods of the configured model, on Ollama's port
      assert.equal(service.spec.selector['serving.knative.dev/service'], `inference-${cfg.models[role]}`);
      assert.equal(new URL(host).port, String(service.spec.ports[0].port));
    }
  });

  it('the functions read the models config the charts were built from (selection and CPU-only applied)', () => {
    // GIVEN a selection of one model, CPU-only
    const one = configWith({ AIPROC_MODELS: cfg.models.planner, AIPROC_CPU_ONLY: '1' });
    const out = synthAll(one);
    // WHEN the config map the functions mount is read
    const cm = out.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'aiproc-models')!;
    const effective = parseModelsConfig(JSON.parse(cm.data!['models.json']!));
    // THEN it holds exactly the deployed models, without GPUs, and every function points at it
    assert.deepEqual(effective.models.map((m) => m.slug), [cfg.models.planner]);
    assert.ok(effective.models.every((m) => m.scaling.gpu === 0));
    for (const k of out.filter((o) => o.apiVersion === 'serving.knative.dev/v1')) {
      const c = k.spec.template.spec.containers[0];
      const file = c.env.find((e: any) => e.name === 'AIPROC_MODELS_FILE').value as string;
      const mount = c.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${idOf(k)}: ${file} is not mounted`);
      const volume = k.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
      assert.equal(volume.configMap.name, 'aiproc-models');
      const slug = c.env.find((e: any) => e.name === 'AIPROC_MODEL_SLUG')?.value;
      if (slug) assert.ok(effective.models.some((m) => m.slug === slug), `${idOf(k)}: ${slug} is not in the mounted config`);
    }
  });

  it('every shell script a container runs parses (sh -n)', () => {
    // GIVEN the `sh -c` scripts of every container (Ollama start, migrations, workflow import)
    const scripts = podSpecs().flatMap(({ owner, spec }) =>
      containersOf(spec)
        .filter((c) => c.command?.[0] === '/bin/sh' && c.command[1] === '-c')
        .map((c) => [`${idOf(owner)} ${c.name}`, c.command[2] as string] as const),
    );
    assert.ok(scripts.length >= 3);
    for (const [where, script] of scripts) {
      // WHEN the shell checks its syntax
      const r = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
      // THEN it has none to report
      assert.equal(r.status, 0, `${where}: ${r.stderr}`);
    }
  });
});
