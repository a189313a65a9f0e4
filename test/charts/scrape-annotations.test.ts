import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configWith, synthAll } from './support.ts';

test('every Knative Service asks Prometheus to scrape GET /metrics on its function port', () => {
  const services = synthAll(configWith()).filter((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service');
  assert.ok(services.length >= 4, 'splitter, merger, feedback and the inference services');
  for (const svc of services) {
    const template = (svc as unknown as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: Array<{ ports?: Array<{ containerPort: number }> }> } } } }).spec.template;
    const a = template.metadata.annotations;
    assert.equal(a['prometheus.io/scrape'], 'true', svc.metadata.name);
    assert.equal(a['prometheus.io/path'], '/metrics', svc.metadata.name);
    assert.equal(a['prometheus.io/port'], String(template.spec.containers[0]!.ports![0]!.containerPort), svc.metadata.name);
  }
});
