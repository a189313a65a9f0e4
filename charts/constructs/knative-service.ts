import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import {
  Service,
  ServiceSpecTemplateSpecContainersLivenessProbeHttpGetPort as LivenessPort,
  ServiceSpecTemplateSpecContainersReadinessProbeHttpGetPort as ReadinessPort,
  ServiceSpecTemplateSpecContainersResourcesLimits as Limit,
  ServiceSpecTemplateSpecContainersResourcesRequests as Request,
  type ServiceSpecTemplateSpecContainers,
  type ServiceSpecTemplateSpecContainersResources,
  type ServiceSpecTemplateSpecVolumes,
} from '../../imports/knative-serving-serving.knative.dev.ts';
import { PART_OF, quantities } from './pod.ts';

/** A container as Knative's Service CRD allows it (a subset of the Kubernetes pod spec). */
export type KnativeContainer = ServiceSpecTemplateSpecContainers;
/** A volume as Knative's Service CRD allows it. */
export type KnativeVolume = ServiceSpecTemplateSpecVolumes;

/**
 * Requests and limits of a Knative container, written the way people read them.
 * @example knativeResources('100m', '192Mi', '1', '768Mi', { 'nvidia.com/gpu': '1' })
 */
export const knativeResources: (cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string, extraLimits?: Record<string, string>) => ServiceSpecTemplateSpecContainersResources =
  quantities(Request.fromString, Limit.fromString);

/**
 * Readiness and liveness over HTTP on the serving port.
 * @example { ...httpProbes(8080) }
 */
export function httpProbes(port: number): Pick<KnativeContainer, 'readinessProbe' | 'livenessProbe'> {
  return {
    readinessProbe: { httpGet: { path: '/readyz', port: ReadinessPort.fromNumber(port) }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: LivenessPort.fromNumber(port) }, periodSeconds: 15, failureThreshold: 4 },
  };
}

/** Props of a Knative Service (serving.knative.dev/v1) running one revision template. */
export interface KnativeServiceProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** `autoscaling.knative.dev/min-scale`; the design keeps at least one pod of everything. */
  readonly minScale: number;
  /** `autoscaling.knative.dev/max-scale`. */
  readonly maxScale: number;
  /** Requests one pod takes at once (0 = no limit). */
  readonly containerConcurrency: number;
  /** Longest request, in seconds; above 600 needs `max-revision-timeout-seconds` raised (the scripts do). */
  readonly timeoutSeconds?: number;
  /** Reachable only inside the cluster (`networking.knative.dev/visibility: cluster-local`). @default false */
  readonly clusterLocal?: boolean;
  /** How long a new revision may take to become ready (a first model pull is slow). @default Knative's 600s */
  readonly progressDeadline?: string;
  /** The serving container first (the only one with a port), sidecars after it. */
  readonly containers: readonly KnativeContainer[];
  readonly volumes?: readonly KnativeVolume[];
  /** Kubernetes tolerations (Knative's CRD leaves them untyped: behind its `kubernetes.podspec-tolerations` flag). */
  readonly tolerations?: readonly k8s.Toleration[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

/**
 * A Knative Service, typed by the construct `cdk8s import` generated from Knative's CRD
 * (crds/knative-serving.service.yaml): a field Knative does not know does not compile.
 * @example new KnativeService(chart, 'merger', { name: 'merger', namespace: 'aiproc', minScale: 1, maxScale: 3, containerConcurrency: 10, containers: [c] })
 */
export class KnativeService extends Service {
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: KnativeServiceProps) {
    const labels: Record<string, string> = { ...PART_OF, ...props.labels };
    if (props.clusterLocal) labels['networking.knative.dev/visibility'] = 'cluster-local';
    const annotations: Record<string, string> = {
      'autoscaling.knative.dev/min-scale': String(props.minScale),
      'autoscaling.knative.dev/max-scale': String(props.maxScale),
    };
    if (props.progressDeadline) annotations['serving.knative.dev/progress-deadline'] = props.progressDeadline;
    // Every function serves GET /metrics on its container port: Prometheus finds the pods by these.
    const port = props.containers[0]?.ports?.[0]?.containerPort;
    if (port !== undefined) Object.assign(annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' });
    super(scope, id, {
      metadata: { name: props.name, namespace: props.namespace, labels },
      spec: {
        template: {
          metadata: { labels: { ...PART_OF, ...props.labels }, annotations },
          spec: {
            containerConcurrency: props.containerConcurrency,
            containers: [...props.containers],
            timeoutSeconds: props.timeoutSeconds,
            volumes: props.volumes?.length ? [...props.volumes] : undefined,
            tolerations: props.tolerations?.length ? props.tolerations.map((t) => k8s.toJson_Toleration(t)) : undefined,
            nodeSelector: props.nodeSelector && Object.keys(props.nodeSelector).length > 0 ? { ...props.nodeSelector } : undefined,
          },
        },
      },
    });
    this.serviceName = props.name;
  }
}
