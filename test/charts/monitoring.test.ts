import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { OfficialImages } from '../../charts/images.ts';
import { ROOT, configWith, schemaProblems, synthAll } from './support.ts';

describe('the optional monitoring chart (AIPROC_MONITORING=1)', () => {
  it('is off by default', () => {
    const objects = synthAll(configWith());
    assert.ok(!objects.some((o) => ['prometheus', 'grafana'].includes(o.metadata.name)));
  });

  it('deploys Prometheus and Grafana from pinned official images, every object valid against its schema', async () => {
    // GIVEN the charts with monitoring on
    const objects = synthAll(configWith({ AIPROC_MONITORING: '1' }));
    const mine = objects.filter((o) => (o.metadata.labels as Record<string, string> | undefined)?.['app.kubernetes.io/name'] === 'prometheus' || (o.metadata.labels as Record<string, string> | undefined)?.['app.kubernetes.io/name'] === 'grafana');
    // THEN both run, with their pinned images, and nothing breaks its schema
    const images = mine.filter((o) => o.kind === 'Deployment').flatMap((o) => (o as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec.template.spec.containers.map((c) => c.image));
    assert.deepEqual(images.sort(), [OfficialImages.grafana, OfficialImages.prometheus].sort());
    assert.deepEqual((await Promise.all(mine.map(schemaProblems))).flat(), []);
  });

  it('Prometheus keeps the annotated pods of the namespace, and Grafana gets the dashboard from the repo with Prometheus as its source', () => {
    const objects = synthAll(configWith({ AIPROC_MONITORING: '1', AIPROC_NAMESPACE: 'ai' }));
    const cm = (name: string) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)!.data!;
    const prom = parse(cm('prometheus-config')['prometheus.yml']!) as { scrape_configs: Array<{ kubernetes_sd_configs: Array<{ role: string; namespaces: { names: string[] } }>; relabel_configs: Array<{ action?: string; regex?: string; source_labels?: string[] }> }> };
    const job = prom.scrape_configs[0]!;
    assert.deepEqual(job.kubernetes_sd_configs[0], { role: 'pod', namespaces: { names: ['ai'] } });
    assert.ok(job.relabel_configs.some((r) => r.action === 'keep' && r.source_labels?.[0] === '__meta_kubernetes_pod_annotation_prometheus_io_scrape' && r.regex === 'true'));
    assert.equal(cm('grafana-dashboards')['aiproc.json'], readFileSync(join(ROOT, 'charts', 'grafana', 'aiproc.json'), 'utf8'));
    const ds = parse(cm('grafana-provisioning')['datasources.yaml']!) as { datasources: Array<{ type: string; url: string }> };
    assert.deepEqual(ds.datasources.map((d) => [d.type, d.url]), [['prometheus', 'http://prometheus.ai.svc.cluster.local:9090']]);
  });

  it('AIPROC_OTLP_ENDPOINT sends every function\'s traces there', () => {
    const objects = synthAll(configWith({ AIPROC_OTLP_ENDPOINT: 'http://otel-collector.observability:4318' }));
    const services = objects.filter((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service');
    for (const s of services) {
      const env = (s as unknown as { spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } } }).spec.template.spec.containers[0]!.env ?? [];
      assert.equal(env.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, 'http://otel-collector.observability:4318', s.metadata.name);
    }
  });
});
