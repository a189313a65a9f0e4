import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel } from 'amqplib';
import { messageOf, statusOf } from '../../errors.ts';
import type { AnyEvent, EventKeys } from '../../events/index.ts';
import type { Logger } from '../../log.ts';
import { Exchanges, Queues, routeOf } from '../topology.ts';
import type { Bus, ConsumeOptions, Deliver } from '../types.ts';
import { decode, encode } from './codec.ts';
import { AmqpConnection, type HeldChannel } from './connection.ts';
import { JobSignals, startConsumer } from './consumer.ts';
import { relayDeadTasks } from './dead-letters.ts';
import { declareReplyQueue, declareTopology } from './declare.ts';
import { ConfirmPublisher } from './publisher.ts';

export { decode, encode } from './codec.ts';
export { DEAD_TASKS_QUEUE, DELIVERY_LIMIT, workQueueArgs } from './declare.ts';
export { DeadHeaders } from './consumer.ts';
export { AmqpConnection, redactUrl } from './connection.ts';

export interface AmqpBusOptions {
  /** AMQP_URL. */
  url: string;
  log: Logger;
  /** This process's name: connection name, reply-queue routing key of a splitter, event source. */
  instance: string;
  /** Model slugs of the configuration: one task queue each. */
  models: readonly string[];
  /** First in-process retry delay, ms (AIPROC_RETRY_DELAY_MS); doubles per attempt. */
  retryDelayMs?: number;
  /** How long a publish may wait for RabbitMQ (disconnected, unconfirmed) before RetryLaterError. */
  publishTimeoutMs?: number;
  /** Merger role: turn dead-lettered task.requested into task.failed. */
  relayDeadTasks?: boolean;
  /** How long close() waits for deliveries in flight. */
  graceMs?: number;
  /**
   * AIPROC_EVENT_KEYS: every event published is signed, every event consumed is verified (an
   * unsigned or wrongly signed one is dead-lettered with the reason, a watched one skipped).
   * `null` only where no other process's events are acted on (tests that watch the bus).
   */
  eventKeys: EventKeys | null;
}

/**
 * The Bus over RabbitMQ (amqplib): topology declared at every (re)connect, publishing under
 * confirms, consumers with manual acks, reconnection with back-off. See docs/distributed.md.
 * @example const bus = await AmqpBus.start({ url: settings.AMQP_URL, log, instance: 'merger-1', models: ['codellama-7b'], eventKeys })
 */
export class AmqpBus implements Bus {
  readonly #opts: AmqpBusOptions;
  readonly #conn: AmqpConnection;
  readonly #publisher: ConfirmPublisher;
  readonly #jobs = new JobSignals();
  readonly #stops = new Set<() => Promise<void>>();
  #closed = false;

  private constructor(opts: AmqpBusOptions, conn: AmqpConnection) {
    this.#opts = opts;
    this.#conn = conn;
    this.#publisher = new ConfirmPublisher(conn, opts.log, opts.publishTimeoutMs ?? 30_000);
    this.#publisher.start();
    if (opts.relayDeadTasks) this.#track(relayDeadTasks(conn, this, opts.instance, opts.log, opts.eventKeys));
  }

  /**
   * Connects (retrying with back-off for as long as it takes, logging why) and declares the topology.
   * A malformed AMQP_URL throws ConfigError at once.
   */
  static async start(opts: AmqpBusOptions): Promise<AmqpBus> {
    const bus = AmqpBus.create(opts);
    const b = await bus;
    await b.ready();
    return b;
  }

  /** Like start, without waiting for the first connection (`ready()` does). */
  static async create(opts: AmqpBusOptions): Promise<AmqpBus> {
    const log = opts.log.child({ bus: 'amqp' });
    const conn = await AmqpConnection.open({
      url: opts.url,
      log,
      name: `aiproc ${opts.instance}`,
      setup: (model) => declareTopology(model, opts.models, log),
    });
    return new AmqpBus({ ...opts, log }, conn);
  }

  ready(): Promise<void> {
    return this.#conn.ready();
  }

  /** The connection (tests: how many times it connected). */
  get connection(): AmqpConnection {
    return this.#conn;
  }

  /** Messages sent a second time after a connection died before confirming them. */
  get republished(): number {
    return this.#publisher.republished;
  }

  async publish(event: AnyEvent): Promise<void> {
    const route = routeOf(event);
    const { content, properties } = encode(event, this.#opts.eventKeys);
    if (route.kind === 'broadcast') return this.#publisher.publish(Exchanges.events, event.type, content, properties);
    await Promise.all([
      this.#publisher.publish(route.exchange, route.routingKey, content, properties, route.kind === 'task'),
      this.#publisher.publish(Exchanges.events, event.type, content, properties),
    ]);
  }

  async consume(queue: string, deliver: Deliver, options: ConsumeOptions): Promise<() => Promise<void>> {
    const replyPrefix = Queues.reply('');
    const instance = queue.startsWith(replyPrefix) ? queue.slice(replyPrefix.length) : null;
    const stop = await startConsumer(queue, deliver, options, {
      conn: this.#conn,
      publisher: this.#publisher,
      log: this.#opts.log,
      jobs: this.#jobs,
      retryDelayMs: this.#opts.retryDelayMs ?? 500,
      graceMs: this.#opts.graceMs ?? 10_000,
      eventKeys: this.#opts.eventKeys,
      ...(instance !== null && { declare: async (ch: Channel) => void (await declareReplyQueue(ch, instance)) }),
    });
    return this.#track(stop);
  }

  async watch(pattern: string, onEvent: (event: AnyEvent) => void): Promise<() => Promise<void>> {
    const log = this.#opts.log.child({ watch: pattern });
    const held: HeldChannel = this.#conn.keepChannel<Channel>(`watch ${pattern}`, false, async (ch) => {
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await ch.bindQueue(queue, Exchanges.events, pattern);
      await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return void ch.close().catch(() => {});
          try {
            onEvent(decode(msg, this.#opts.eventKeys));
          } catch (err) {
            log[statusOf(err) === 401 ? 'warn' : 'debug']({ err: messageOf(err) }, 'watch: skipped a message');
          }
        },
        { noAck: true },
      );
    });
    await held.opened;
    return this.#track(() => held.stop());
  }

  cancelJob(jobId: string): void {
    this.#jobs.cancel(jobId);
  }

  /** Messages ready in a queue (the queue-depth metric); null while RabbitMQ cannot say. */
  async depth(queue: string): Promise<number | null> {
    if (this.#closed) return null;
    const check = this.#conn.once((ch) => ch.checkQueue(queue)).then((q) => q.messageCount, () => null);
    // A connection that is down would keep the scrape waiting: say "unknown" instead.
    return Promise.race([check, sleep(2_000).then(() => null)]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#stops].map((s) => s().catch(() => {})));
    await this.#publisher.drain(5_000);
    await this.#publisher.stop();
    await this.#conn.close();
  }

  #track(stop: () => Promise<void>): () => Promise<void> {
    const once = async () => {
      if (!this.#stops.delete(once)) return;
      await stop();
    };
    this.#stops.add(once);
    return once;
  }
}
