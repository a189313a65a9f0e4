import type { Channel, ConsumeMessage } from 'amqplib';
import { CancelledError, isRetryable, messageOf } from '../../errors.ts';
import { EventSignatureError, type AnyEvent, type EventKeys } from '../../events/index.ts';
import type { Logger } from '../../log.ts';
import { deliverWithRetries } from '../retry.ts';
import { Exchanges } from '../topology.ts';
import type { ConsumeOptions, Deliver } from '../types.ts';
import { decode } from './codec.ts';
import type { AmqpConnection } from './connection.ts';
import type { ConfirmPublisher } from './publisher.ts';

/** Headers a dead letter carries so that a person (and the merger) can read why it died. */
export const DeadHeaders = {
  reason: 'x-aiproc-reason',
  queue: 'x-aiproc-queue',
  attempts: 'x-aiproc-attempts',
  /** 'true' when onDeadLetter already ran in the consumer (no second task.failed needed). */
  handled: 'x-aiproc-dead-handled',
  at: 'x-aiproc-dead-at',
} as const;

/** In-flight deliveries per job, so `cancelJob` can abort them; remembers recent cancels. */
export class JobSignals {
  readonly #live = new Map<string, Set<AbortController>>();
  readonly #cancelled = new Set<string>();

  track(jobId: string | undefined): AbortController {
    const ac = new AbortController();
    if (jobId === undefined) return ac;
    if (this.#cancelled.has(jobId)) ac.abort(new CancelledError());
    let set = this.#live.get(jobId);
    if (!set) this.#live.set(jobId, (set = new Set()));
    set.add(ac);
    return ac;
  }

  untrack(jobId: string | undefined, ac: AbortController): void {
    if (jobId === undefined) return;
    const set = this.#live.get(jobId);
    set?.delete(ac);
    if (set?.size === 0) this.#live.delete(jobId);
  }

  cancel(jobId: string): void {
    this.#cancelled.add(jobId);
    // Bounded memory: forget the oldest cancels (a Set iterates in insertion order).
    if (this.#cancelled.size > 10_000) this.#cancelled.delete(this.#cancelled.values().next().value as string);
    for (const ac of this.#live.get(jobId) ?? []) ac.abort(new CancelledError());
  }
}

export interface ConsumerDeps {
  conn: AmqpConnection;
  publisher: ConfirmPublisher;
  log: Logger;
  jobs: JobSignals;
  /** First in-process retry delay, ms; doubles per attempt. */
  retryDelayMs: number;
  /** Declares what this consumer needs on each new channel (e.g. an exclusive reply queue). */
  declare?: (ch: Channel) => Promise<void>;
  /** How long `stop()` waits for deliveries in flight before closing (they are then redelivered). */
  graceMs?: number;
  /** Verify every event against these keys (AIPROC_EVENT_KEYS); an unsigned one is dead-lettered. */
  eventKeys?: EventKeys | null;
}

/**
 * Consumes a queue with manual acks: prefetch = concurrency; each message is decoded, delivered,
 * retried in-process with back-off while the error is retryable (up to `attempts`), acked once
 * delivered; dead-lettered with its reason (to `aiproc.dead`, under confirm, then acked) when it
 * cannot be decoded, fails for good, or runs out of attempts.
 * @example const stop = startConsumer('aiproc.results', deliver, { concurrency: 4, attempts: 3 }, deps)
 */
export async function startConsumer(queue: string, deliver: Deliver, options: ConsumeOptions, deps: ConsumerDeps): Promise<() => Promise<void>> {
  const log = deps.log.child({ queue });
  let inflight = 0;
  let idle: Array<() => void> = [];
  let current: { ch: Channel; tag: string } | null = null;

  const handle = async (msg: ConsumeMessage, ch: Channel) => {
    inflight += 1;
    try {
      await work(msg, ch);
    } catch (err) {
      log.error({ err: messageOf(err) }, 'delivery handling failed; the message goes back to the queue');
    } finally {
      inflight -= 1;
      if (inflight === 0) for (const r of idle.splice(0)) r();
    }
  };

  const work = async (msg: ConsumeMessage, ch: Channel) => {
    let ev: AnyEvent;
    try {
      ev = decode(msg, deps.eventKeys ?? null);
    } catch (err) {
      const unsigned = err instanceof EventSignatureError;
      const reason = `${unsigned ? 'rejected' : 'undecodable message'}: ${messageOf(err)}`;
      log.warn({ messageId: msg.properties.messageId, reason }, unsigned ? 'dead-lettering an event no function signed' : 'dead-lettering a message that is not a valid event');
      await deadLetter(msg, ch, reason, 0, false);
      return;
    }
    const ac = deps.jobs.track(ev.jobid);
    let attempt = 0;
    try {
      await deliverWithRetries(
        async (n) => {
          attempt = n;
          await deliver(ev, { attempt: n, signal: ac.signal });
        },
        {
          attempts: options.attempts,
          minDelayMs: deps.retryDelayMs,
          signal: ac.signal,
          onRetry: (err, n) => log.warn({ type: ev.type, id: ev.id, attempt: n, err: messageOf(err) }, 'delivery failed; retrying'),
        },
      );
      ack(msg, ch);
    } catch (err) {
      if (err instanceof CancelledError || ac.signal.aborted) {
        log.info({ type: ev.type, jobid: ev.jobid }, 'delivery cancelled with its job');
        ack(msg, ch);
        return;
      }
      const reason = isRetryable(err) ? `gave up after ${attempt} attempts: ${messageOf(err)}` : messageOf(err);
      log.warn({ type: ev.type, id: ev.id, jobid: ev.jobid, attempts: attempt, reason }, 'dead-lettering a delivery');
      let handled = false;
      if (options.onDeadLetter) {
        try {
          await options.onDeadLetter(ev, reason, attempt, err);
          handled = true;
        } catch (e) {
          log.error({ err: messageOf(e) }, 'onDeadLetter failed; the dead-letter relay will report it');
        }
      }
      await deadLetter(msg, ch, reason, attempt, handled);
    } finally {
      deps.jobs.untrack(ev.jobid, ac);
    }
  };

  const ack = (msg: ConsumeMessage, ch: Channel) => {
    try {
      ch.ack(msg);
    } catch (err) {
      // The channel died while we worked: RabbitMQ redelivers, the consumer dedups.
      log.info({ err: messageOf(err) }, 'could not ack (channel closed); the message will be redelivered');
    }
  };

  const deadLetter = async (msg: ConsumeMessage, ch: Channel, reason: string, attempts: number, handled: boolean) => {
    const p = msg.properties;
    const headers = {
      ...(p.headers ?? {}),
      [DeadHeaders.reason]: reason.slice(0, 4000),
      [DeadHeaders.queue]: queue,
      [DeadHeaders.attempts]: String(attempts),
      [DeadHeaders.handled]: String(handled),
      [DeadHeaders.at]: new Date().toISOString(),
    };
    try {
      await deps.publisher.publish(Exchanges.dead, queue, msg.content, {
        headers,
        persistent: true,
        ...(p.contentType !== undefined && { contentType: p.contentType }),
        ...(p.messageId !== undefined && { messageId: p.messageId }),
        ...(p.type !== undefined && { type: p.type }),
        ...(p.timestamp !== undefined && { timestamp: p.timestamp }),
      });
      ack(msg, ch);
    } catch (err) {
      // Could not park it with its reason: let RabbitMQ dead-letter it (x-death says 'rejected').
      log.error({ err: messageOf(err), reason }, 'could not publish the dead letter; rejecting it instead');
      try {
        ch.nack(msg, false, false);
      } catch {
        /* channel gone: redelivered, and dead-lettered again then */
      }
    }
  };

  const held = deps.conn.keepChannel<Channel>(`consumer ${queue}`, false, async (ch) => {
    await ch.prefetch(options.concurrency);
    if (deps.declare) await deps.declare(ch);
    const { consumerTag } = await ch.consume(
      queue,
      (msg) => {
        if (msg === null) {
          log.warn('consumer cancelled by RabbitMQ (queue deleted?); reopening');
          void ch.close().catch(() => {});
          return;
        }
        void handle(msg, ch);
      },
      { noAck: false },
    );
    current = { ch, tag: consumerTag };
    log.debug({ consumerTag }, 'consuming');
  });
  await held.opened;

  return async () => {
    const c = current;
    if (c) await c.ch.cancel(c.tag).catch(() => {});
    if (inflight > 0) {
      await Promise.race([
        new Promise<void>((r) => idle.push(r)),
        new Promise<void>((r) => setTimeout(r, deps.graceMs ?? 10_000).unref()),
      ]);
    }
    idle = [];
    await held.stop();
  };
}
