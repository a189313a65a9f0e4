import type { Channel, ChannelModel, Options } from 'amqplib';
import type { Logger } from '../../log.ts';
import { Exchanges, Queues } from '../topology.ts';

/**
 * Redeliveries a work queue allows before RabbitMQ dead-letters a message on its own (only
 * crashes mid-delivery count: retries of a thrown error happen in-process). The same in every
 * process and in charts/, since RabbitMQ refuses a redeclaration with other arguments.
 */
export const DELIVERY_LIMIT = 5;

/**
 * Where dead-lettered messages land for the merger to turn task.requested into task.failed.
 * `aiproc.dead` (fanout) copies every dead letter into it and into the `aiproc.dead` parking
 * queue that people read.
 */
export const DEAD_TASKS_QUEUE = 'aiproc.dead.tasks';

/** Bounded so that a flood of poison messages cannot fill the disk; oldest dropped first. */
export const DEAD_QUEUE_MAX_LENGTH = 100_000;

/** Arguments of every durable work queue: quorum, bounded redelivery, safe dead-lettering. */
export const workQueueArgs = {
  'x-queue-type': 'quorum',
  'x-delivery-limit': DELIVERY_LIMIT,
  'x-dead-letter-exchange': Exchanges.dead,
  'x-dead-letter-strategy': 'at-least-once',
  // at-least-once dead-lettering requires reject-publish (RabbitMQ docs: quorum queues).
  'x-overflow': 'reject-publish',
} as const;

interface QueueSpec {
  name: string;
  options: Options.AssertQueue;
  bind: Array<{ exchange: string; key: string }>;
}

/** Every exchange and durable queue; `slugs` are the configured models. */
export function topologyOf(slugs: readonly string[]): { exchanges: Array<[string, string]>; queues: QueueSpec[] } {
  const work = (name: string, bind: QueueSpec['bind']): QueueSpec => ({
    name,
    options: { durable: true, arguments: { ...workQueueArgs } },
    bind,
  });
  return {
    exchanges: [
      [Exchanges.tasks, 'direct'],
      [Exchanges.results, 'direct'],
      [Exchanges.replies, 'direct'],
      [Exchanges.feedback, 'direct'],
      [Exchanges.events, 'topic'],
      [Exchanges.dead, 'fanout'],
    ],
    queues: [
      ...slugs.map((slug) => work(Queues.task(slug), [{ exchange: Exchanges.tasks, key: slug }])),
      work(Queues.results, [{ exchange: Exchanges.results, key: '' }]),
      work(Queues.feedback, [{ exchange: Exchanges.feedback, key: '' }]),
      {
        name: DEAD_TASKS_QUEUE,
        options: { durable: true, arguments: { 'x-queue-type': 'quorum' } },
        bind: [{ exchange: Exchanges.dead, key: '' }],
      },
      {
        name: Queues.dead,
        options: { durable: true, arguments: { 'x-max-length': DEAD_QUEUE_MAX_LENGTH, 'x-overflow': 'drop-head' } },
        bind: [{ exchange: Exchanges.dead, key: '' }],
      },
    ],
  };
}

/**
 * Declares the topology, idempotently. A queue that already exists with other arguments (say,
 * declared by an operator or the charts) is used as it is, with a warning, rather than failing:
 * RabbitMQ answers such a declaration with 406 and closes the channel, so each step gets a
 * fresh channel after a refusal.
 * @example await declareTopology(model, ['codellama-7b'], log)
 */
export async function declareTopology(model: ChannelModel, slugs: readonly string[], log: Logger): Promise<void> {
  const { exchanges, queues } = topologyOf(slugs);
  let ch: Channel = await openQuiet(model);
  try {
    for (const [name, type] of exchanges) {
      try {
        await ch.assertExchange(name, type, { durable: true });
      } catch (err) {
        if ((err as { code?: number }).code !== 406) throw err;
        log.warn({ exchange: name, err: (err as Error).message }, 'exchange exists with another type; using it as it is');
        ch = await openQuiet(model);
        await ch.checkExchange(name);
      }
    }
    for (const q of queues) {
      try {
        await ch.assertQueue(q.name, q.options);
      } catch (err) {
        if ((err as { code?: number }).code !== 406) throw err;
        log.warn({ queue: q.name, err: (err as Error).message }, 'queue exists with other arguments; using it as it is');
        ch = await openQuiet(model);
        await ch.checkQueue(q.name);
      }
      for (const b of q.bind) await ch.bindQueue(q.name, b.exchange, b.key);
    }
  } finally {
    await ch.close().catch(() => {});
  }
}

/** How long a splitter's reply queue outlives its last consumer (a splitter gone for good). */
export const REPLY_QUEUE_EXPIRES_MS = 5 * 60_000;

/**
 * The reply queue of a splitter instance, bound by its name. Not `exclusive`: an exclusive queue
 * dies with its connection, so the replies sent while the splitter reconnects would be lost and
 * its open HTTP responses would hang. This one outlives a reconnect and expires (x-expires) once
 * no splitter has used it for a while.
 */
export async function declareReplyQueue(ch: Channel, instance: string): Promise<string> {
  const name = Queues.reply(instance);
  await ch.assertQueue(name, { durable: true, arguments: { 'x-expires': REPLY_QUEUE_EXPIRES_MS } });
  await ch.bindQueue(name, Exchanges.replies, instance);
  return name;
}

async function openQuiet(model: ChannelModel): Promise<Channel> {
  const ch = await model.createChannel();
  ch.on('error', () => {}); // a refused declaration closes the channel; the await reports it
  return ch;
}
