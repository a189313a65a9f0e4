import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';

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
  readonly containers: readonly k8s.Container[];
  readonly volumes?: readonly k8s.Volume[];
  readonly tolerations?: readonly k8s.Toleration[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

/**
 * A Knative Service. Knative's CRD has no generated cdk8s class here, so this writes the object
 * with cdk8s-plus-34's Kubernetes types for the pod parts (containers, volumes, tolerations).
 * @example new KnativeService(chart, 'merger', { name: 'merger', namespace: 'aiproc', minScale: 1, maxScale: 3, containerConcurrency: 10, containers: [c] })
 */
export class KnativeService extends ApiObject {
  static readonly apiVersion = 'serving.knative.dev/v1';
  static readonly kind = 'Service';
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: KnativeServiceProps) {
    const labels: Record<string, string> = { 'app.kubernetes.io/part-of': 'aiproc', ...props.labels };
    if (props.clusterLocal) labels['networking.knative.dev/visibility'] = 'cluster-local';
    const annotations: Record<string, string> = {
      'autoscaling.knative.dev/min-scale': String(props.minScale),
      'autoscaling.knative.dev/max-scale': String(props.maxScale),
    };
    if (props.progressDeadline) annotations['serving.knative.dev/progress-deadline'] = props.progressDeadline;
    const spec: Record<string, unknown> = {
      containerConcurrency: props.containerConcurrency,
      containers: props.containers.map((c) => k8s.toJson_Container(c)),
    };
    if (props.timeoutSeconds !== undefined) spec.timeoutSeconds = props.timeoutSeconds;
    if (props.volumes?.length) spec.volumes = props.volumes.map((v) => k8s.toJson_Volume(v));
    if (props.tolerations?.length) spec.tolerations = props.tolerations.map((t) => k8s.toJson_Toleration(t));
    if (props.nodeSelector && Object.keys(props.nodeSelector).length > 0) spec.nodeSelector = { ...props.nodeSelector };
    super(scope, id, {
      apiVersion: KnativeService.apiVersion,
      kind: KnativeService.kind,
      metadata: { name: props.name, namespace: props.namespace, labels },
      spec: {
        template: {
          metadata: { labels: { 'app.kubernetes.io/part-of': 'aiproc', ...props.labels }, annotations },
          spec,
        },
      },
    });
    this.serviceName = props.name;
  }
}
