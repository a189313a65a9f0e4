import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configWith, crdValidatorMap, schemaProblems, synthAll, type K8sObject } from './support.ts';

const variants: Record<string, Record<string, string>> = {
  'the default (GPU, Supabase in the cluster)': {},
  'CPU-only with plain Postgres for the store': { AIPROC_CPU_ONLY: '1', AIPROC_STORE: 'postgres' },
  'an external Supabase, GPU sharing and a GPU node selector': {
    AIPROC_SUPABASE_URL: 'https://example.supabase.co',
    AIPROC_GPU_SHARING: '4',
    AIPROC_GPU_NODE_SELECTOR: 'nvidia.com/gpu.present=true',
  },
};

describe('every synthesised object validates against its real schema', () => {
  it('reads the CRD schemas of Knative, eventing-rabbitmq and the RabbitMQ operators from crds/', () => {
    // GIVEN the CRD files the project keeps
    // WHEN they are compiled
    const kinds = [...crdValidatorMap().keys()];
    // THEN every kind the charts write has a validator
    for (const k of ['serving.knative.dev/v1 Service', 'sources.knative.dev/v1alpha1 RabbitmqSource', 'rabbitmq.com/v1beta1 RabbitmqCluster', 'rabbitmq.com/v1beta1 Queue', 'rabbitmq.com/v1beta1 Exchange', 'rabbitmq.com/v1beta1 Binding']) {
      assert.ok(kinds.includes(k), `no CRD schema for ${k}`);
    }
  });

  for (const [name, env] of Object.entries(variants)) {
    it(`${name}: no object breaks its schema`, async () => {
      // GIVEN the charts built from models.json with these settings
      const objects = synthAll(configWith(env));
      assert.ok(objects.length > 20, `only ${objects.length} objects`);
      // WHEN each object is checked against its CRD or Kubernetes schema
      const problems = (await Promise.all(objects.map(schemaProblems))).flat();
      // THEN there is nothing to report
      assert.deepEqual(problems, []);
    });
  }

  it('catches a misspelt field and a wrong type (the check can fail)', async () => {
    // GIVEN a Knative Service with an unknown field and a RabbitmqSource with a string parallelism
    const objects = synthAll(configWith());
    const ksvc = structuredClone(objects.find((o) => o.kind === 'Service' && o.apiVersion.startsWith('serving'))!) as K8sObject;
    ksvc.spec.template.spec.containerConcurency = 1;
    const source = structuredClone(objects.find((o) => o.kind === 'RabbitmqSource')!) as K8sObject;
    source.spec.rabbitmqResourcesConfig.parallelism = 'ten';
    const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment')!) as K8sObject;
    deployment.spec.replicas = 'one';
    // WHEN they are validated
    // THEN each is rejected, naming the place
    assert.match((await schemaProblems(ksvc)).join('\n'), /containerConcurency/);
    assert.match((await schemaProblems(source)).join('\n'), /parallelism/);
    assert.match((await schemaProblems(deployment)).join('\n'), /replicas/);
  });
});
