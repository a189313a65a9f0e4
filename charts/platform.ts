import { join } from 'node:path';
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import { topologyOf } from '../functions/lib/bus/amqp/declare.ts';
import type { ChartConfig } from './config.ts';
import { PART_OF } from './constructs/pod.ts';
import { RabbitmqCluster, TopologyBinding, TopologyExchange, TopologyQueue } from './constructs/rabbitmq.ts';
import { SupabaseStack, type StoreEndpoints } from './supabase.ts';

/** The expandable StorageClass every data volume uses; Retain keeps the data when objects go. */
export const STORAGE_CLASS = 'aiproc-local';
/** The shared Ollama model cache every inference pod mounts. */
export const MODEL_CACHE_PVC = 'ollama-models';
export const RABBITMQ_CLUSTER = 'aiproc-rabbitmq';

/**
 * What must exist before any function or source starts: the namespace, storage, RabbitMQ with
 * every exchange, queue (dead-letter policy included) and binding, and the database.
 * @example const platform = new PlatformChart(app, 'aiproc-platform', cfg, root)
 */
export class PlatformChart extends Chart {
  readonly rabbitmq: RabbitmqCluster;
  readonly queues: TopologyQueue[] = [];
  /** Where the functions find the database: in the cluster, or the external Supabase of the settings. */
  readonly store: StoreEndpoints;

  constructor(scope: Construct, id: string, cfg: ChartConfig, root: string) {
    super(scope, id, { disableResourceNameHashes: true });
    const ns = cfg.env.AIPROC_NAMESPACE;
    new k8s.KubeNamespace(this, 'namespace', { metadata: { name: ns, labels: { ...PART_OF } } });
    new k8s.KubeStorageClass(this, 'storage', {
      metadata: { name: STORAGE_CLASS, labels: { ...PART_OF } },
      provisioner: cfg.env.AIPROC_STORAGE_PROVISIONER,
      allowVolumeExpansion: true,
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'WaitForFirstConsumer',
    });
    new k8s.KubePersistentVolumeClaim(this, 'model-cache', {
      metadata: { name: MODEL_CACHE_PVC, namespace: ns, labels: { ...PART_OF } },
      spec: {
        accessModes: [cfg.env.AIPROC_MODEL_CACHE_ACCESS],
        storageClassName: STORAGE_CLASS,
        resources: { requests: { storage: k8s.Quantity.fromString('200Gi') } },
      },
    });

    this.rabbitmq = new RabbitmqCluster(this, 'rabbitmq', { name: RABBITMQ_CLUSTER, namespace: ns, storageClassName: STORAGE_CLASS });
    const topo = topologyOf(cfg.deployed.map((m) => m.slug));
    const base = { namespace: ns, cluster: RABBITMQ_CLUSTER };
    for (const [name, type] of topo.exchanges) new TopologyExchange(this, `exchange-${name}`, { ...base, name, type });
    for (const q of topo.queues) {
      this.queues.push(new TopologyQueue(this, `queue-${q.name}`, { ...base, name: q.name, arguments: q.options.arguments ?? {} }));
      for (const b of q.bind) new TopologyBinding(this, `binding-${b.exchange}-${q.name}-${b.key}`, { ...base, source: b.exchange, queue: q.name, routingKey: b.key });
    }

    this.store = cfg.env.AIPROC_SUPABASE_URL
      ? { supabaseUrl: cfg.env.AIPROC_SUPABASE_URL }
      : new SupabaseStack(this, 'supabase', { namespace: ns, storageClassName: STORAGE_CLASS, migrationsDir: join(root, 'supabase', 'migrations') }).endpoints;
  }
}
