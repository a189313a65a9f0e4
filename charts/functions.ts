import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import { Queues } from '../functions/lib/bus/topology.ts';
import type { ChartConfig, DeployedModel } from './config.ts';
import { functionsImage, OfficialImages } from './images.ts';
import { SecretKeys } from './secrets.ts';
import { httpProbes, knativeResources, KnativeService, type KnativeContainer, type KnativeVolume } from './constructs/knative-service.ts';
import { labelsOf, plainEnv, secretEnv, secretRefEnv } from './constructs/pod.ts';
import { RabbitmqSource } from './constructs/rabbitmq.ts';
import { MODEL_CACHE_PVC, RABBITMQ_CLUSTER, type PlatformChart } from './platform.ts';

/** The port every function listens on (Knative sets PORT to it). */
export const FUNCTION_PORT = 8080;
export const OLLAMA_PORT = 11434;
/** Where the effective models config is mounted in every function pod. */
const MODELS_MOUNT = '/etc/aiproc';
export const MODELS_CONFIGMAP = 'aiproc-models';

/** Scaling of the functions that are not per model: [min, max, concurrency per pod]. */
export const FunctionScaling = {
  splitter: { min: 1, max: 3, concurrency: 0 },
  merger: { min: 1, max: 3, concurrency: 10 },
  feedback: { min: 1, max: 2, concurrency: 10 },
} as const;

/** Longest streamed answer the splitter holds open (s); the scripts raise Knative's max to match. */
export const SPLITTER_TIMEOUT_S = 3600;
/** Longest part an inference pod works on (s). */
export const INFERENCE_TIMEOUT_S = 1800;
/** A first model pull can take long: a new inference revision may take this long to get ready. */
export const INFERENCE_PROGRESS_DEADLINE = '3600s';

/** @example inferenceServiceName('codellama-7b') // 'inference-codellama-7b' */
export const inferenceServiceName = (slug: string) => `inference-${slug}`;
/** The ClusterIP Service that reaches the Ollama sidecar of a model's inference pods. */
export const ollamaServiceName = (slug: string) => `ollama-${slug}`;

/**
 * Pulls the model into the shared cache only when it is not there yet, loads it into memory (kept
 * there: OLLAMA_KEEP_ALIVE=-1), then keeps serving. The function's /readyz answers only once Ollama
 * lists the model, so the pod turns ready after the pull.
 */
const OLLAMA_START = `ollama serve & pid=$!
until ollama list >/dev/null 2>&1; do sleep 1; done
if ollama show "$AIPROC_OLLAMA_MODEL" >/dev/null 2>&1; then echo "model $AIPROC_OLLAMA_MODEL is in the cache"
else echo "pulling $AIPROC_OLLAMA_MODEL into the shared cache"; ollama pull "$AIPROC_OLLAMA_MODEL" || echo "pull failed; /readyz stays red"; fi
ollama run --keepalive -1s "$AIPROC_OLLAMA_MODEL" "" >/dev/null 2>&1 && echo "model $AIPROC_OLLAMA_MODEL loaded"
wait $pid
`;

/**
 * The functions as Knative Services, the RabbitMQ sources feeding them, and the Services that
 * let the splitter (planner) and merger reach an Ollama that has their model.
 * @example new FunctionsChart(app, 'aiproc-functions', cfg, platform)
 */
export class FunctionsChart extends Chart {
  readonly services = new Map<string, KnativeService>();
  readonly sources: RabbitmqSource[] = [];

  constructor(scope: Construct, id: string, cfg: ChartConfig, platform: PlatformChart) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(platform);
    const ns = cfg.env.AIPROC_NAMESPACE;
    const image = functionsImage(cfg.env.AIPROC_IMAGE_TAG);
    const svcHost = (name: string) => `${name}.${ns}.svc.cluster.local`;

    // The runtime reads the models config the charts were built from (selection and CPU-only applied).
    const effective = { ...cfg.models, models: cfg.deployed.map(({ roles: _roles, ...m }) => m) };
    new k8s.KubeConfigMap(this, 'models', {
      metadata: { name: MODELS_CONFIGMAP, namespace: ns, labels: labelsOf('aiproc-models') },
      data: { 'models.json': `${JSON.stringify(effective, null, 2)}\n` },
    });

    const rabbitSecret = platform.rabbitmq.defaultUserSecret;
    const commonEnv: k8s.EnvVar[] = [
      ...plainEnv({ HOST: '0.0.0.0', LOG_LEVEL: 'info', AIPROC_MODELS_FILE: `${MODELS_MOUNT}/models.json` }),
      ...plainEnv({ AIPROC_TASK_ATTEMPTS: String(cfg.env.AIPROC_TASK_ATTEMPTS), AIPROC_RETRY_DELAY_MS: String(cfg.env.AIPROC_RETRY_DELAY_MS) }),
      secretRefEnv('RABBITMQ_USERNAME', rabbitSecret, 'username'),
      secretRefEnv('RABBITMQ_PASSWORD', rabbitSecret, 'password'),
      // Kubernetes expands $(VAR) from the variables above: the manifest carries no credential.
      ...plainEnv({ AMQP_URL: `amqp://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@${svcHost(platform.rabbitmq.host)}:5672` }),
      ...storeEnv(cfg, platform),
      // Traces: each function names its own service (aiproc-splitter, aiproc-inference-<slug>, …).
      ...(cfg.env.AIPROC_OTLP_ENDPOINT ? plainEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: cfg.env.AIPROC_OTLP_ENDPOINT }) : []),
      // The functions sign their events to one another and act only on signed ones.
      secretEnv(SecretKeys.eventKeys),
    ];
    const functionContainer = (fn: string, extra: k8s.EnvVar[]): KnativeContainer => ({
      name: 'function',
      image,
      imagePullPolicy: 'IfNotPresent',
      ports: [{ name: 'http1', containerPort: FUNCTION_PORT }],
      env: [...plainEnv({ FUNCTION: fn }), ...commonEnv, ...extra],
      ...httpProbes(FUNCTION_PORT),
      resources: knativeResources('100m', '192Mi', '1', '768Mi'),
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
      volumeMounts: [{ name: 'models-config', mountPath: MODELS_MOUNT, readOnly: true }],
    });
    const configVolume: KnativeVolume = { name: 'models-config', configMap: { name: MODELS_CONFIGMAP } };
    const ollamaUrl = (slug: string) => `http://${svcHost(ollamaServiceName(slug))}:${OLLAMA_PORT}`;

    const add = (svc: KnativeService) => this.services.set(svc.serviceName, svc);
    add(
      new KnativeService(this, 'splitter', {
        name: 'splitter',
        namespace: ns,
        labels: labelsOf('splitter'),
        ...scale(FunctionScaling.splitter),
        timeoutSeconds: SPLITTER_TIMEOUT_S,
        // The splitter also takes feedback at /v1/feedback (what the n8n workflows call), so it checks those tokens too.
        containers: [
          functionContainer('splitter', [
            secretEnv(SecretKeys.apiKeys),
            secretEnv(SecretKeys.adminKeys),
            secretEnv(SecretKeys.gatewayKeys),
            secretEnv(SecretKeys.feedbackTokens),
            secretEnv(SecretKeys.webhookSecrets),
            ...plainEnv({ OLLAMA_HOST: ollamaUrl(cfg.models.planner) }),
          ]),
        ],
        volumes: [configVolume],
      }),
    );
    add(
      new KnativeService(this, 'merger', {
        name: 'merger',
        namespace: ns,
        labels: labelsOf('merger'),
        clusterLocal: true,
        ...scale(FunctionScaling.merger),
        timeoutSeconds: INFERENCE_TIMEOUT_S,
        containers: [functionContainer('merger', plainEnv({ OLLAMA_HOST: ollamaUrl(cfg.models.merger) }))],
        volumes: [configVolume],
      }),
    );
    add(
      new KnativeService(this, 'feedback', {
        name: 'feedback',
        namespace: ns,
        labels: labelsOf('feedback'),
        clusterLocal: true,
        ...scale(FunctionScaling.feedback),
        containers: [functionContainer('feedback', [secretEnv(SecretKeys.feedbackTokens), secretEnv(SecretKeys.webhookSecrets)])],
        volumes: [configVolume],
      }),
    );

    for (const m of cfg.deployed) {
      add(this.inference(m, ns, functionContainer, configVolume, cfg));
      if (m.roles.length > 0) {
        new k8s.KubeService(this, `ollama-${m.slug}`, {
          metadata: { name: ollamaServiceName(m.slug), namespace: ns, labels: labelsOf(ollamaServiceName(m.slug)) },
          spec: {
            selector: { 'serving.knative.dev/service': inferenceServiceName(m.slug) },
            ports: [{ name: 'http', port: OLLAMA_PORT, targetPort: k8s.IntOrString.fromNumber(OLLAMA_PORT) }],
          },
        });
      }
    }

    const source = (name: string, queue: string, sink: string, parallelism: number) =>
      this.sources.push(
        new RabbitmqSource(this, `source-${name}`, {
          namespace: ns,
          cluster: RABBITMQ_CLUSTER,
          name: `source-${name}`,
          queue,
          sink,
          parallelism,
          retry: Math.max(0, cfg.env.AIPROC_TASK_ATTEMPTS - 1),
          backoffDelay: isoDuration(cfg.env.AIPROC_RETRY_DELAY_MS),
        }),
      );
    for (const m of cfg.deployed) source(`tasks-${m.slug}`, Queues.task(m.slug), inferenceServiceName(m.slug), m.scaling.max * m.scaling.concurrency);
    const mergerParallelism = FunctionScaling.merger.max * FunctionScaling.merger.concurrency;
    source('results', Queues.results, 'merger', mergerParallelism);
    // No source reads aiproc.dead.tasks: the merger consumes it itself (functions/serve.ts relays
    // dead-lettered parts as task.failed), so a second consumer there would steal its messages.
    source('feedback', Queues.feedback, 'feedback', FunctionScaling.feedback.max * FunctionScaling.feedback.concurrency);
  }

  private inference(m: DeployedModel, ns: string, fn: (f: string, env: k8s.EnvVar[]) => KnativeContainer, configVolume: KnativeVolume, cfg: ChartConfig): KnativeService {
    const gpu = m.scaling.gpu;
    const ollama: KnativeContainer = {
      name: 'ollama',
      image: OfficialImages.ollama,
      imagePullPolicy: 'IfNotPresent',
      command: ['/bin/sh', '-c', OLLAMA_START],
      env: plainEnv({
        AIPROC_OLLAMA_MODEL: m.ollama,
        OLLAMA_HOST: `0.0.0.0:${OLLAMA_PORT}`,
        OLLAMA_KEEP_ALIVE: '-1',
        OLLAMA_MAX_LOADED_MODELS: '1',
        // Its own parts, plus a slot for each planner/merger call it also serves.
        OLLAMA_NUM_PARALLEL: String(m.scaling.concurrency + m.roles.length),
      }),
      volumeMounts: [{ name: 'models', mountPath: '/root/.ollama' }],
      resources: knativeResources('500m', '1Gi', '8', '48Gi', gpu > 0 ? { 'nvidia.com/gpu': String(gpu) } : {}),
    };
    const selector = cfg.env.AIPROC_GPU_NODE_SELECTOR?.split('=');
    return new KnativeService(this, `inference-${m.slug}`, {
      name: inferenceServiceName(m.slug),
      namespace: ns,
      labels: { ...labelsOf('inference'), 'aiproc.dev/model': m.slug },
      clusterLocal: true,
      minScale: m.scaling.min,
      maxScale: m.scaling.max,
      containerConcurrency: m.scaling.concurrency,
      timeoutSeconds: INFERENCE_TIMEOUT_S,
      progressDeadline: INFERENCE_PROGRESS_DEADLINE,
      containers: [fn('inference', plainEnv({ AIPROC_MODEL_SLUG: m.slug, OLLAMA_HOST: `http://127.0.0.1:${OLLAMA_PORT}` })), ollama],
      volumes: [configVolume, { name: 'models', persistentVolumeClaim: { claimName: MODEL_CACHE_PVC } }],
      tolerations: gpu > 0 ? [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] : [],
      nodeSelector: gpu > 0 && selector ? { [selector[0]!]: selector[1] ?? '' } : {},
    });
  }
}

function scale(s: { min: number; max: number; concurrency: number }) {
  return { minScale: s.min, maxScale: s.max, containerConcurrency: s.concurrency };
}

/** @example isoDuration(500) // 'PT0.5S' */
export function isoDuration(ms: number): string {
  return `PT${Number((ms / 1000).toFixed(3))}S`;
}

function storeEnv(cfg: ChartConfig, platform: PlatformChart): k8s.EnvVar[] {
  if (cfg.env.AIPROC_STORE === 'postgres' && platform.store.postgresHost) {
    return [
      secretEnv(SecretKeys.postgresPassword),
      ...plainEnv({ DATABASE_URL: `postgres://supabase_admin:$(POSTGRES_PASSWORD)@${platform.store.postgresHost}:5432/postgres` }),
    ];
  }
  return [...plainEnv({ SUPABASE_URL: platform.store.supabaseUrl }), secretEnv(SecretKeys.serviceRoleKey)];
}
