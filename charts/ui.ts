import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import type { ChartConfig } from './config.ts';
import { OfficialImages } from './images.ts';
import { openWebUIEnv } from './openwebui-connection.ts';
import { SecretKeys } from './secrets.ts';
import { labelsOf, plainEnv, resources, secretEnv, secretRefEnv } from './constructs/pod.ts';
import { FUNCTION_PORT, OLLAMA_PORT, type FunctionsChart } from './functions.ts';
import { PROMETHEUS_PORT } from './monitoring.ts';
import { RABBITMQ_CLUSTER, STORAGE_CLASS, type PlatformChart } from './platform.ts';
import { NetworkPolicies } from './network.ts';
import { DB_PORT, GATEWAY_PORT, POSTGREST_PORT } from './supabase.ts';

export const N8N_PORT = 5678;
export const OPENWEBUI_PORT = 3000;
/** The port OpenWebUI's container listens on (its Service maps OPENWEBUI_PORT to it). */
const OPENWEBUI_CONTAINER_PORT = 8080;
export const N8N_WORKFLOWS_CONFIGMAP = 'n8n-workflows';

/** The workflow files in `n8n/` at synth time, by file name. */
export function readWorkflows(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

/** Imports every mounted workflow (one file each; a workflow keeps its id, so a re-import updates it). */
const N8N_IMPORT = `set -eu
if ls /workflows/*.json >/dev/null 2>&1; then n8n import:workflow --separate --input=/workflows; else echo "no workflows to import"; fi
`;

/**
 * The people-facing apps: n8n (workflows imported at start) and OpenWebUI (its OpenAI connection is
 * the splitter, user info forwarded as headers), each with a volume and a ClusterIP Service that
 * people reach through `kubectl port-forward` (the scripts start it); a LoadBalancer (Docker
 * Desktop publishes those on localhost; elsewhere it may face the internet) only with
 * AIPROC_EXPOSE_UI. The namespace's NetworkPolicies are made here too, once every pod is known.
 * @example new UiChart(app, 'aiproc-ui', cfg, platform, functions, root)
 */
export class UiChart extends Chart {
  constructor(scope: Construct, id: string, cfg: ChartConfig, platform: PlatformChart, functions: FunctionsChart, root: string) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(functions);
    const ns = cfg.env.AIPROC_NAMESPACE;
    const host = (name: string) => `${name}.${ns}.svc.cluster.local`;
    const serviceType = cfg.env.AIPROC_EXPOSE_UI ? 'LoadBalancer' : 'ClusterIP';
    new NetworkPolicies(this, 'network', {
      namespace: ns,
      rabbitmqName: RABBITMQ_CLUSTER,
      // Each is the container port of the pods it guards (the chart tests check they agree).
      ports: { function: FUNCTION_PORT, ollama: OLLAMA_PORT, n8n: N8N_PORT, openwebui: OPENWEBUI_CONTAINER_PORT, postgres: DB_PORT, postgrest: POSTGREST_PORT, gateway: GATEWAY_PORT, prometheus: PROMETHEUS_PORT },
    });
    const pvc = (name: string, size: string) =>
      new k8s.KubePersistentVolumeClaim(this, `${name}-pvc`, {
        metadata: { name, namespace: ns, labels: labelsOf(name) },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: k8s.Quantity.fromString(size) } } },
      });

    // n8n
    const workflows = readWorkflows(join(root, 'n8n'));
    new k8s.KubeConfigMap(this, 'n8n-workflows', { metadata: { name: N8N_WORKFLOWS_CONFIGMAP, namespace: ns, labels: labelsOf('n8n') }, data: workflows });
    pvc('n8n-data', '5Gi');
    const n8nLabels = labelsOf('n8n');
    const rabbitSecret = platform.rabbitmq.defaultUserSecret;
    const n8nEnv: k8s.EnvVar[] = [
      secretEnv(SecretKeys.n8nEncryptionKey),
      ...plainEnv({
        N8N_PORT: String(N8N_PORT),
        N8N_SECURE_COOKIE: 'false',
        N8N_RUNNERS_ENABLED: 'true',
        // Workflows read the addresses and tokens below with $env.
        N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
        AIPROC_API_URL: `http://${host('splitter')}`,
        AIPROC_FEEDBACK_URL: `http://${host('feedback')}`,
        AIPROC_AMQP_HOST: host(platform.rabbitmq.host),
        SUPABASE_URL: platform.store.supabaseUrl,
      }),
      secretEnv(SecretKeys.apiKeys, 'AIPROC_API_KEY'),
      secretEnv(SecretKeys.feedbackTokens, 'AIPROC_FEEDBACK_TOKEN'),
      secretEnv(SecretKeys.webhookSecrets, 'AIPROC_WEBHOOK_SECRET'),
      secretEnv(SecretKeys.serviceRoleKey),
      secretRefEnv('AIPROC_AMQP_USERNAME', rabbitSecret, 'username'),
      secretRefEnv('AIPROC_AMQP_PASSWORD', rabbitSecret, 'password'),
    ];
    const n8nMounts: k8s.VolumeMount[] = [{ name: 'data', mountPath: '/home/node/.n8n' }];
    new k8s.KubeDeployment(this, 'n8n', {
      metadata: { name: 'n8n', namespace: ns, labels: n8nLabels },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: n8nLabels },
        template: {
          metadata: {
            labels: n8nLabels,
            // A changed workflow set restarts the pod, which imports it again.
            annotations: { 'aiproc.dev/workflows-hash': createHash('sha256').update(JSON.stringify(workflows)).digest('hex').slice(0, 16) },
          },
          spec: {
            securityContext: { fsGroup: 1000, runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true },
            initContainers: [
              {
                name: 'import-workflows',
                image: OfficialImages.n8n,
                command: ['/bin/sh', '-c', N8N_IMPORT],
                env: n8nEnv,
                volumeMounts: [...n8nMounts, { name: 'workflows', mountPath: '/workflows', readOnly: true }],
                resources: resources('100m', '256Mi', '1', '1Gi'),
              },
            ],
            containers: [
              {
                name: 'n8n',
                image: OfficialImages.n8n,
                ports: [{ name: 'http', containerPort: N8N_PORT }],
                env: n8nEnv,
                volumeMounts: n8nMounts,
                readinessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromNumber(N8N_PORT) }, periodSeconds: 10 },
                resources: resources('100m', '256Mi', '2', '2Gi'),
              },
            ],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: 'n8n-data' } },
              { name: 'workflows', configMap: { name: N8N_WORKFLOWS_CONFIGMAP } },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, 'n8n-service', {
      metadata: { name: 'n8n', namespace: ns, labels: n8nLabels },
      spec: { type: serviceType, selector: n8nLabels, ports: [{ name: 'http', port: N8N_PORT, targetPort: k8s.IntOrString.fromNumber(N8N_PORT) }] },
    });

    // OpenWebUI
    pvc('openwebui-data', '5Gi');
    const webLabels = labelsOf('openwebui');
    new k8s.KubeDeployment(this, 'openwebui', {
      metadata: { name: 'openwebui', namespace: ns, labels: webLabels },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: webLabels },
        template: {
          metadata: { labels: webLabels },
          spec: {
            containers: [
              {
                name: 'openwebui',
                image: OfficialImages.openwebui,
                ports: [{ name: 'http', containerPort: OPENWEBUI_CONTAINER_PORT }],
                env: [
                  // The connection to the splitter, custom headers included (message id, task).
                  ...plainEnv(openWebUIEnv(`http://${host('splitter')}/v1`)),
                  // A gateway key: aiproc keeps OpenWebUI's user, chat and message ids only from a gateway.
                  secretEnv(SecretKeys.gatewayKeys, 'OPENAI_API_KEY'),
                  secretEnv(SecretKeys.webuiSecretKey),
                ],
                volumeMounts: [{ name: 'data', mountPath: '/app/backend/data' }],
                readinessProbe: { httpGet: { path: '/health', port: k8s.IntOrString.fromNumber(OPENWEBUI_CONTAINER_PORT) }, periodSeconds: 10, failureThreshold: 30 },
                resources: resources('100m', '512Mi', '2', '4Gi'),
              },
            ],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'openwebui-data' } }],
          },
        },
      },
    });
    new k8s.KubeService(this, 'openwebui-service', {
      metadata: { name: 'openwebui', namespace: ns, labels: webLabels },
      spec: { type: serviceType, selector: webLabels, ports: [{ name: 'http', port: OPENWEBUI_PORT, targetPort: k8s.IntOrString.fromNumber(OPENWEBUI_CONTAINER_PORT) }] },
    });
  }
}
