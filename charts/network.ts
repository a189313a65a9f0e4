import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { labelsOf, PART_OF } from './constructs/pod.ts';

/** The pods of the four functions (Knative revisions carry their Service's labels). */
export const FUNCTION_NAMES = ['splitter', 'merger', 'feedback', 'inference'] as const;

/** Where Knative's data plane runs: the activator (knative-serving) and the Kourier gateways (kourier-system). */
export const KNATIVE_DATA_PLANE_NAMESPACES = ['knative-serving', 'kourier-system'] as const;

/** The RabbitMQ operators (cluster and messaging topology) manage the broker from here. */
export const RABBITMQ_OPERATOR_NAMESPACE = 'rabbitmq-system';

export interface NetworkPoliciesProps {
  readonly namespace: string;
  /** The RabbitmqCluster's name: its pods carry `app.kubernetes.io/name: <name>`. */
  readonly rabbitmqName: string;
  /** Ports: the function's (Knative's queue-proxy in front of it takes every port), Ollama's, n8n's, OpenWebUI's. */
  readonly ports: {
    readonly function: number; readonly ollama: number; readonly n8n: number; readonly openwebui: number;
    readonly postgres: number; readonly postgrest: number; readonly gateway: number; readonly prometheus: number;
  };
}

const byName = (name: string): k8s.LabelSelector => ({ matchLabels: { 'app.kubernetes.io/name': name, ...PART_OF } });
const functions: k8s.LabelSelector = {
  matchLabels: { ...PART_OF },
  matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [...FUNCTION_NAMES] }],
};
const inNamespace = (ns: string): k8s.NetworkPolicyPeer => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } });
const tcp = (port: number): k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });

/**
 * The network as the second wall (the first is signed events and keys): every pod of the
 * namespace takes no connection unless a policy here allows it.
 * - the functions: from Knative's data plane only (activator, Kourier), which fronts every
 *   request to them: OpenWebUI's, n8n's and the RabbitMQ sources';
 * - each inference pod's Ollama: from the functions only (n8n's rule drafting asks the planner
 *   model through the splitter's API, like any client);
 * - Postgres, PostgREST and the Supabase gateway: from the functions, n8n and each other (the
 *   migration Job reaches Postgres);
 * - RabbitMQ: from this namespace's pods (functions, n8n, the sources' adapters, its own nodes)
 *   and its operators;
 * - n8n: from the functions (the events webhook); OpenWebUI: from n8n (its feedback sync);
 * - with monitoring on: the functions' /metrics port from Prometheus, Prometheus from Grafana.
 * People reach OpenWebUI and n8n through `kubectl port-forward` (which these do not block).
 * @example new NetworkPolicies(chart, 'network', { namespace: 'aiproc', rabbitmqName: 'aiproc-rabbitmq', ports })
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { namespace, ports } = props;
    const policy = (name: string, podSelector: k8s.LabelSelector, ingress: k8s.NetworkPolicyIngressRule[]) =>
      new k8s.KubeNetworkPolicy(this, name, {
        metadata: { name: `aiproc-${name}`, namespace, labels: labelsOf('aiproc-network') },
        spec: { podSelector, policyTypes: ['Ingress'], ingress },
      });
    const from = (...selectors: k8s.LabelSelector[]): k8s.NetworkPolicyPeer[] => selectors.map((podSelector) => ({ podSelector }));

    policy('default-deny-ingress', {}, []);
    policy('functions-from-knative', functions, [{ from: KNATIVE_DATA_PLANE_NAMESPACES.map(inNamespace) }]);
    policy('ollama-from-functions', byName('inference'), [{ from: from(functions), ports: [tcp(ports.ollama)] }]);
    policy('postgres', byName('supabase-db'), [{ from: from(functions, byName('n8n'), byName('postgrest'), byName('supabase-migrate')), ports: [tcp(ports.postgres)] }]);
    policy('postgrest', byName('postgrest'), [{ from: from(functions, byName('n8n'), byName('supabase-gateway')), ports: [tcp(ports.postgrest)] }]);
    policy('supabase-gateway', byName('supabase-gateway'), [{ from: from(functions, byName('n8n')), ports: [tcp(ports.gateway)] }]);
    policy('rabbitmq', { matchLabels: { 'app.kubernetes.io/name': props.rabbitmqName } }, [{ from: [{ podSelector: {} }, inNamespace(RABBITMQ_OPERATOR_NAMESPACE)] }]);
    policy('n8n-from-functions', byName('n8n'), [{ from: from(functions), ports: [tcp(ports.n8n)] }]);
    policy('openwebui-from-n8n', byName('openwebui'), [{ from: from(byName('n8n')), ports: [tcp(ports.openwebui)] }]);
    // Select nothing unless AIPROC_MONITORING deploys Prometheus and Grafana (charts/monitoring.ts).
    policy('metrics-from-prometheus', functions, [{ from: from(byName('prometheus')), ports: [tcp(ports.function)] }]);
    policy('prometheus-from-grafana', byName('prometheus'), [{ from: from(byName('grafana')), ports: [tcp(ports.prometheus)] }]);
  }
}
