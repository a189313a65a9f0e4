import { createHash } from 'node:crypto';
import type { Construct } from 'constructs';
import { Binding, BindingSpecDestinationType } from '../../imports/rabbitmq-binding-rabbitmq.com.ts';
import {
  RabbitmqCluster as RabbitmqClusterObject,
  RabbitmqClusterSpecPersistenceStorage as Storage,
  RabbitmqClusterSpecResourcesLimits as Limit,
  RabbitmqClusterSpecResourcesRequests as Request,
} from '../../imports/rabbitmq-cluster-rabbitmq.com.ts';
import { Exchange } from '../../imports/rabbitmq-exchange-rabbitmq.com.ts';
import { Queue, QueueSpecDeletionPolicy } from '../../imports/rabbitmq-queue-rabbitmq.com.ts';
import { RabbitmqSource as RabbitmqSourceObject, type RabbitmqSourceSpec } from '../../imports/rabbitmq-source-sources.knative.dev.ts';
import { PART_OF, quantities } from './pod.ts';

const objectName = (s: string) => s.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');

/** Props of a RabbitmqCluster (cluster operator). */
export interface RabbitmqClusterProps {
  readonly name: string;
  readonly namespace: string;
  readonly storageClassName: string;
  /** Persistent volume size. @default 10Gi */
  readonly storage?: string;
}

/**
 * A one-node RabbitMQ with persistent storage. The operator writes `<name>-default-user` (username,
 * password) which the sources and the functions read.
 * @example new RabbitmqCluster(chart, 'rabbitmq', { name: 'aiproc-rabbitmq', namespace: 'aiproc', storageClassName: 'aiproc-local' })
 */
export class RabbitmqCluster extends RabbitmqClusterObject {
  readonly clusterName: string;
  constructor(scope: Construct, id: string, props: RabbitmqClusterProps) {
    super(scope, id, {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...PART_OF } },
      spec: {
        replicas: 1,
        persistence: { storageClassName: props.storageClassName, storage: Storage.fromString(props.storage ?? '10Gi') },
        resources: quantities(Request.fromString, Limit.fromString)('250m', '1Gi', '1', '1Gi'),
        rabbitmq: { additionalConfig: 'consumer_timeout = 3600000\n' },
      },
    });
    this.clusterName = props.name;
  }

  /** The name of the Secret the operator writes with `username` and `password`. */
  get defaultUserSecret(): string {
    return `${this.clusterName}-default-user`;
  }

  /** The in-cluster AMQP host name. */
  get host(): string {
    return this.clusterName;
  }
}

interface TopologyBase {
  readonly namespace: string;
  readonly cluster: string;
}

/** A messaging-topology-operator Exchange. @example new TopologyExchange(c, 'x', { namespace, cluster, name: 'aiproc.tasks', type: 'direct' }) */
export class TopologyExchange extends Exchange {
  constructor(scope: Construct, id: string, props: TopologyBase & { readonly name: string; readonly type: string }) {
    super(scope, id, {
      metadata: { name: `exchange-${objectName(props.name)}`, namespace: props.namespace, labels: { ...PART_OF } },
      spec: { name: props.name, type: props.type, durable: true, autoDelete: false, rabbitmqClusterReference: { name: props.cluster } },
    });
  }
}

/** A messaging-topology-operator Queue with its arguments (dead-letter policy included). */
export class TopologyQueue extends Queue {
  readonly queueName: string;
  readonly queueArguments: Readonly<Record<string, unknown>>;
  constructor(scope: Construct, id: string, props: TopologyBase & { readonly name: string; readonly arguments: Readonly<Record<string, unknown>> }) {
    super(scope, id, {
      metadata: { name: `queue-${objectName(props.name)}`, namespace: props.namespace, labels: { ...PART_OF } },
      spec: {
        name: props.name,
        ...(props.arguments['x-queue-type'] === 'quorum' ? { type: 'quorum' } : {}),
        durable: true,
        autoDelete: false,
        // Keep the messages if the object is deleted (`--down`): only a person deletes a queue with work in it.
        deletionPolicy: QueueSpecDeletionPolicy.RETAIN,
        arguments: Object.fromEntries(Object.entries(props.arguments).filter(([k]) => k !== 'x-queue-type')),
        rabbitmqClusterReference: { name: props.cluster },
      },
    });
    this.queueName = props.name;
    this.queueArguments = props.arguments;
  }
}

/** A messaging-topology-operator Binding of a queue to an exchange. */
export class TopologyBinding extends Binding {
  constructor(scope: Construct, id: string, props: TopologyBase & { readonly source: string; readonly queue: string; readonly routingKey: string }) {
    const suffix = props.routingKey ? `-${objectName(props.routingKey)}` : '';
    super(scope, id, {
      metadata: { name: `binding-${objectName(props.source)}-to-${objectName(props.queue)}${suffix}`, namespace: props.namespace, labels: { ...PART_OF } },
      spec: {
        source: props.source,
        destination: props.queue,
        destinationType: BindingSpecDestinationType.QUEUE,
        routingKey: props.routingKey,
        rabbitmqClusterReference: { name: props.cluster },
      },
    });
  }
}

/** Annotation holding a hash of a source's spec (its spec is immutable once created). */
export const SPEC_HASH_ANNOTATION = 'aiproc.dev/spec-hash';

/** @example specHash({ a: 1 }) // 'a5e744d0164540d3' */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

/** Props of a RabbitmqSource (eventing-rabbitmq) reading one predeclared queue. */
export interface RabbitmqSourceProps extends TopologyBase {
  readonly name: string;
  readonly queue: string;
  /** The Knative Service that receives each message as a CloudEvent. */
  readonly sink: string;
  /** Deliveries in flight (prefetch and workers): max-scale × concurrency of the sink. */
  readonly parallelism: number;
  readonly retry: number;
  readonly backoffDelay: string;
}

/**
 * A RabbitmqSource. Its spec cannot change after creation, so the scripts delete and recreate a
 * changed one; it nacks without requeue after its retries, so the queue's dead-letter exchange
 * is what keeps a failed event.
 * @example new RabbitmqSource(c, 's', { namespace, cluster, name: 'merger', queue: 'aiproc.results', sink: 'merger', parallelism: 30, retry: 5, backoffDelay: 'PT0.5S' })
 */
export class RabbitmqSource extends RabbitmqSourceObject {
  readonly queue: string;
  readonly sink: string;
  constructor(scope: Construct, id: string, props: RabbitmqSourceProps) {
    const spec: RabbitmqSourceSpec = {
      rabbitmqClusterReference: { name: props.cluster },
      rabbitmqResourcesConfig: { queueName: props.queue, predeclared: true, parallelism: props.parallelism, vhost: '/' },
      delivery: { retry: props.retry, backoffPolicy: 'exponential', backoffDelay: props.backoffDelay },
      sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: props.sink } },
    };
    super(scope, id, {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { ...PART_OF },
        // The scripts compare this with the live object and recreate a source whose spec changed.
        annotations: { [SPEC_HASH_ANNOTATION]: specHash(spec) },
      },
      spec,
    });
    this.queue = props.queue;
    this.sink = props.sink;
  }
}
