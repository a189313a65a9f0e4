import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import type { ChartConfig } from './config.ts';
import { OfficialImages } from './images.ts';
import { labelsOf, plainEnv, resources } from './constructs/pod.ts';
import type { FunctionsChart } from './functions.ts';

export const PROMETHEUS_PORT = 9090;
export const GRAFANA_PORT = 3000;
/** Docker Desktop publishes LoadBalancer ports on localhost: OpenWebUI already has 3000. */
export const GRAFANA_SERVICE_PORT = 3001;

/**
 * Prometheus's scrape config: the pods of this namespace that ask for it with the
 * `prometheus.io/scrape|port|path` annotations (every function does), labelled by pod and service.
 */
export function prometheusConfig(namespace: string): string {
  return `global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: aiproc-functions
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [${JSON.stringify(namespace)}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: "true"
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        action: replace
        target_label: __metrics_path__
        regex: (.+)
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        action: replace
        regex: ([^:]+)(?::\\d+)?;(\\d+)
        replacement: $1:$2
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_label_serving_knative_dev_service]
        target_label: service
`;
}

/**
 * Optional (`AIPROC_MONITORING=1`): Prometheus scraping the functions' `/metrics` by their pod
 * annotations, and Grafana with Prometheus as its data source and the aiproc dashboard
 * (charts/grafana/aiproc.json) provisioned. Pinned official images; no persistent volume (a
 * restart starts the history again).
 * @example new MonitoringChart(app, 'aiproc-monitoring', cfg, functions, root)
 */
export class MonitoringChart extends Chart {
  constructor(scope: Construct, id: string, cfg: ChartConfig, functions: FunctionsChart, root: string) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(functions);
    const ns = cfg.env.AIPROC_NAMESPACE;
    const promLabels = labelsOf('prometheus');
    new k8s.KubeServiceAccount(this, 'prometheus-sa', { metadata: { name: 'prometheus', namespace: ns, labels: promLabels } });
    new k8s.KubeRole(this, 'prometheus-role', {
      metadata: { name: 'prometheus', namespace: ns, labels: promLabels },
      rules: [{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }],
    });
    new k8s.KubeRoleBinding(this, 'prometheus-binding', {
      metadata: { name: 'prometheus', namespace: ns, labels: promLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: ns }],
    });
    new k8s.KubeConfigMap(this, 'prometheus-config', { metadata: { name: 'prometheus-config', namespace: ns, labels: promLabels }, data: { 'prometheus.yml': prometheusConfig(ns) } });
    new k8s.KubeDeployment(this, 'prometheus', {
      metadata: { name: 'prometheus', namespace: ns, labels: promLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: promLabels },
        template: {
          metadata: { labels: promLabels },
          spec: {
            serviceAccountName: 'prometheus',
            containers: [
              {
                name: 'prometheus',
                image: OfficialImages.prometheus,
                args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=7d'],
                ports: [{ name: 'http', containerPort: PROMETHEUS_PORT }],
                readinessProbe: { httpGet: { path: '/-/ready', port: k8s.IntOrString.fromNumber(PROMETHEUS_PORT) }, periodSeconds: 10 },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
                  { name: 'data', mountPath: '/prometheus' },
                ],
                resources: resources('100m', '256Mi', '1', '1Gi'),
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'prometheus-config' } },
              { name: 'data', emptyDir: {} },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, 'prometheus-service', {
      metadata: { name: 'prometheus', namespace: ns, labels: promLabels },
      spec: { selector: promLabels, ports: [{ name: 'http', port: PROMETHEUS_PORT, targetPort: k8s.IntOrString.fromNumber(PROMETHEUS_PORT) }] },
    });

    const grafLabels = labelsOf('grafana');
    const datasources = `apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: http://prometheus.${ns}.svc.cluster.local:${PROMETHEUS_PORT}
    isDefault: true
`;
    const providers = `apiVersion: 1
providers:
  - name: aiproc
    folder: aiproc
    type: file
    options:
      path: /var/lib/grafana/dashboards
`;
    new k8s.KubeConfigMap(this, 'grafana-provisioning', {
      metadata: { name: 'grafana-provisioning', namespace: ns, labels: grafLabels },
      data: { 'datasources.yaml': datasources, 'dashboards.yaml': providers },
    });
    new k8s.KubeConfigMap(this, 'grafana-dashboards', {
      metadata: { name: 'grafana-dashboards', namespace: ns, labels: grafLabels },
      data: { 'aiproc.json': readFileSync(join(root, 'charts', 'grafana', 'aiproc.json'), 'utf8') },
    });
    new k8s.KubeDeployment(this, 'grafana', {
      metadata: { name: 'grafana', namespace: ns, labels: grafLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: grafLabels },
        template: {
          metadata: { labels: grafLabels },
          spec: {
            containers: [
              {
                name: 'grafana',
                image: OfficialImages.grafana,
                ports: [{ name: 'http', containerPort: GRAFANA_PORT }],
                // Viewers need no login; the admin logs in as admin/admin and is made to change it.
                env: plainEnv({ GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer', GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/aiproc.json' }),
                readinessProbe: { httpGet: { path: '/api/health', port: k8s.IntOrString.fromNumber(GRAFANA_PORT) }, periodSeconds: 10 },
                volumeMounts: [
                  { name: 'provisioning', mountPath: '/etc/grafana/provisioning/datasources/aiproc.yaml', subPath: 'datasources.yaml', readOnly: true },
                  { name: 'provisioning', mountPath: '/etc/grafana/provisioning/dashboards/aiproc.yaml', subPath: 'dashboards.yaml', readOnly: true },
                  { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards', readOnly: true },
                ],
                resources: resources('50m', '128Mi', '1', '512Mi'),
              },
            ],
            volumes: [
              { name: 'provisioning', configMap: { name: 'grafana-provisioning' } },
              { name: 'dashboards', configMap: { name: 'grafana-dashboards' } },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, 'grafana-service', {
      metadata: { name: 'grafana', namespace: ns, labels: grafLabels },
      // Anonymous viewers: a LoadBalancer only when the UIs are exposed on purpose (AIPROC_EXPOSE_UI), else port-forward.
      spec: { type: cfg.env.AIPROC_EXPOSE_UI ? 'LoadBalancer' : 'ClusterIP', selector: grafLabels, ports: [{ name: 'http', port: GRAFANA_SERVICE_PORT, targetPort: k8s.IntOrString.fromNumber(GRAFANA_PORT) }] },
    });
  }
}
