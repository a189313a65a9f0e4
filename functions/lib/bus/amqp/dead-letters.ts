import type { Channel, ConsumeMessage } from 'amqplib';
import { messageOf } from '../../errors.ts';
import { EventTypes, makeEvent, type EventKeys } from '../../events/index.ts';
import type { Logger } from '../../log.ts';
import type { Bus } from '../types.ts';
import { decode } from './codec.ts';
import type { AmqpConnection } from './connection.ts';
import { DeadHeaders } from './consumer.ts';
import { DEAD_TASKS_QUEUE, DELIVERY_LIMIT } from './declare.ts';

const DEATH_REASONS: Record<string, string> = {
  delivery_limit: `delivered more than ${DELIVERY_LIMIT} times without an ack (did the inference process crash on it each time?)`,
  rejected: 'rejected by its consumer (e.g. the function answered an error that is not retried)',
  expired: 'expired in the queue',
  maxlen: 'dropped because the queue was full',
};

/** Why a dead letter died, from our header or from RabbitMQ's x-death. */
export function deathReason(headers: Record<string, unknown>): string {
  const ours = headers[DeadHeaders.reason];
  if (typeof ours === 'string' || Buffer.isBuffer(ours)) return String(ours);
  const death = (headers['x-death'] as Array<Record<string, unknown>> | undefined)?.[0];
  if (death) {
    const why = String(death['reason']);
    return `${DEATH_REASONS[why] ?? why} (queue ${String(death['queue'])})`;
  }
  return 'dead-lettered (no reason recorded)';
}

function attemptsOf(headers: Record<string, unknown>): number {
  const ours = Number(headers[DeadHeaders.attempts]);
  if (Number.isInteger(ours) && ours >= 0) return ours;
  const count = Number(headers['x-delivery-count'] ?? (headers['x-death'] as Array<Record<string, unknown>> | undefined)?.[0]?.['count']);
  return Number.isInteger(count) && count >= 0 ? count : 0;
}

/**
 * Part of the merger role: turns each dead-lettered `task.requested` into a `task.failed` with
 * the reason, so the job finishes (with that part marked failed) instead of waiting for ever.
 * Dead letters that the consumer already reported through onDeadLetter, and anything that is
 * not a task, are only acknowledged here; the `aiproc.dead` queue keeps a copy of each for people.
 * @example const stop = relayDeadTasks(conn, bus, 'merger-1', log, keys)
 */
export function relayDeadTasks(conn: AmqpConnection, bus: Bus, instance: string, log: Logger, keys: EventKeys | null = null): () => Promise<void> {
  const rlog = log.child({ queue: DEAD_TASKS_QUEUE });
  const handle = async (msg: ConsumeMessage, ch: Channel) => {
    const headers = msg.properties.headers ?? {};
    const type = String(headers['ce-type'] ?? '');
    if (type !== EventTypes.taskRequested || String(headers[DeadHeaders.handled]) === 'true') {
      ch.ack(msg);
      return;
    }
    let failed;
    const reason = deathReason(headers);
    try {
      // A dead task nobody signed (a forgery dead-lettered for it) fails no real job's part.
      const ev = decode(msg, keys);
      if (ev.type !== EventTypes.taskRequested) throw new Error('not a task');
      failed = makeEvent(
        EventTypes.taskFailed,
        { jobId: ev.data.jobId, index: ev.data.part.index, model: ev.data.part.model, error: reason, attempts: attemptsOf(headers) },
        {
          source: `/aiproc/${instance}/dead-letters`,
          id: `${ev.id}.dead`,
          jobid: ev.data.jobId,
          model: ev.data.part.model,
          ...(ev.owner && { owner: ev.owner }),
          ...(ev.traceparent && { traceparent: ev.traceparent }),
          ...(ev.tracestate && { tracestate: ev.tracestate }),
        },
      );
    } catch (err) {
      rlog.warn({ err: messageOf(err), reason }, 'a dead task that cannot be read; left in aiproc.dead');
      ch.ack(msg);
      return;
    }
    try {
      await bus.publish(failed);
      rlog.warn({ jobid: failed.jobid, index: failed.data.index, reason }, 'dead-lettered task reported as task.failed');
      ch.ack(msg);
    } catch (err) {
      rlog.error({ err: messageOf(err) }, 'could not publish task.failed for a dead task; it stays queued');
      ch.nack(msg, false, true);
    }
  };
  const held = conn.keepChannel<Channel>('dead-letter relay', false, async (ch) => {
    await ch.prefetch(16);
    await ch.consume(
      DEAD_TASKS_QUEUE,
      (msg) => {
        if (msg === null) {
          void ch.close().catch(() => {});
          return;
        }
        handle(msg, ch).catch((err: unknown) => rlog.error({ err: messageOf(err) }, 'dead-letter relay failed on a message'));
      },
      { noAck: false },
    );
  });
  return () => held.stop();
}
