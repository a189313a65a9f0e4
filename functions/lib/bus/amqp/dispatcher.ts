import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ConsumeMessage } from 'amqplib';
import { messageOf } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { AmqpConnection } from './connection.ts';

/** The statuses Knative's RabbitMQ source retries (everything else non-2xx is final). */
export const RETRIED_STATUSES: ReadonlySet<number> = new Set([404, 413, 425, 429, 502, 503, 504]);

export interface DispatcherOptions {
  /** AMQP_URL. */
  url: string;
  /** The queue to consume (DISPATCH_QUEUE), e.g. `aiproc.tasks.codellama-7b`. */
  queue: string;
  /** The function's CloudEvents endpoint (DISPATCH_TARGET), e.g. `http://127.0.0.1:8081/`. */
  target: string;
  /** Prefetch and concurrent deliveries, 1..1000 (RabbitmqSource `parallelism`). */
  parallelism: number;
  /** Retries after the first attempt (RabbitmqSource `delivery.retry`). */
  retry: number;
  backoffPolicy: 'exponential' | 'linear';
  /** Base back-off delay, ms (RabbitmqSource `delivery.backoffDelay`). */
  backoffDelayMs: number;
  /** Per-request timeout, ms (a timeout is retried like a network error). */
  timeoutMs: number;
  log: Logger;
  /** Test seam. */
  fetch?: typeof fetch;
}

export interface DispatcherStats {
  acked: number;
  nacked: number;
  retries: number;
}

/** The HTTP request RabbitmqSource makes for a message: binary mode when it is a CloudEvent. */
export function toHttpRequest(msg: Pick<ConsumeMessage, 'content' | 'properties'>, queue: string): { headers: Record<string, string>; body: Buffer } {
  const headers: Record<string, string> = {};
  let contentType: string | undefined;
  for (const [k, v] of Object.entries(msg.properties.headers ?? {})) {
    const key = k.toLowerCase();
    const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
    if (text === undefined) continue; // x-death and other tables are broker bookkeeping
    if (key === 'content-type') contentType = text;
    else if (key.startsWith('ce-')) headers[key] = text;
  }
  contentType ??= msg.properties.contentType as string | undefined;
  if (headers['ce-specversion'] !== undefined || contentType?.startsWith('application/cloudevents')) {
    if (contentType) headers['content-type'] = contentType;
    return { headers, body: msg.content };
  }
  // Not a CloudEvent: wrapped into one, as the source does; the function will refuse its type.
  return {
    headers: {
      'ce-specversion': '1.0',
      'ce-id': String(msg.properties.messageId ?? randomUUID()),
      'ce-type': 'dev.knative.rabbitmq.event',
      'ce-source': `/aiproc/dispatch/${queue}`,
      'content-type': contentType ?? 'application/octet-stream',
    },
    body: msg.content,
  };
}

/**
 * The local stand-in for Knative's RabbitmqSource: consumes a queue and POSTs each message to a
 * function's endpoint as a binary-mode CloudEvent; `parallelism` deliveries at once; retries
 * with back-off on 404/413/425/429/502/503/504 and network errors; ack on 2xx, otherwise (or
 * when retries are spent) nack without requeue, so the queue's dead-letter exchange gets it.
 * @example const d = await startDispatcher({ url, queue: 'aiproc.results', target: 'http://127.0.0.1:8082/', parallelism: 4, retry: 5, backoffPolicy: 'exponential', backoffDelayMs: 200, timeoutMs: 600_000, log })
 */
export async function startDispatcher(opts: DispatcherOptions): Promise<{ stop(): Promise<void>; stats: DispatcherStats }> {
  const log = opts.log.child({ dispatch: opts.queue, target: opts.target });
  const doFetch = opts.fetch ?? fetch;
  const stats: DispatcherStats = { acked: 0, nacked: 0, retries: 0 };
  const conn = await AmqpConnection.open({ url: opts.url, log, name: `aiproc dispatch ${opts.queue}` });
  let inflight = 0;
  let idle: Array<() => void> = [];
  let stopping = false;
  let current: { ch: Channel; tag: string } | null = null;

  const post = async (req: { headers: Record<string, string>; body: Buffer }): Promise<{ status: number; text: string } | { error: string }> => {
    try {
      const res = await doFetch(opts.target, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(opts.timeoutMs) });
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    } catch (err) {
      return { error: messageOf(err) };
    }
  };

  const deliver = async (msg: ConsumeMessage, ch: Channel) => {
    const req = toHttpRequest(msg, opts.queue);
    const id = req.headers['ce-id'];
    for (let attempt = 0; ; attempt++) {
      const r = await post(req);
      if ('status' in r && r.status >= 200 && r.status < 300) {
        settle(ch, msg, true);
        return;
      }
      const retryable = 'error' in r || RETRIED_STATUSES.has(r.status);
      const what = 'error' in r ? r.error : `HTTP ${r.status} ${r.text}`;
      if (!retryable || attempt >= opts.retry || stopping) {
        log.warn({ id, attempts: attempt + 1, result: what }, 'delivery failed for good; nack without requeue (dead-lettered)');
        settle(ch, msg, false);
        return;
      }
      stats.retries += 1;
      const delay = opts.backoffPolicy === 'linear' ? opts.backoffDelayMs * (attempt + 1) : opts.backoffDelayMs * 2 ** attempt;
      log.info({ id, attempt: attempt + 1, result: what, retryInMs: delay }, 'delivery failed; retrying');
      await sleep(delay);
    }
  };

  const settle = (ch: Channel, msg: ConsumeMessage, ok: boolean) => {
    try {
      if (ok) ch.ack(msg);
      else ch.nack(msg, false, false);
      if (ok) stats.acked += 1;
      else stats.nacked += 1;
    } catch (err) {
      log.info({ err: messageOf(err) }, 'channel closed before the ack; the message will be redelivered');
    }
  };

  const held = conn.keepChannel<Channel>(`dispatch ${opts.queue}`, false, async (ch) => {
    await ch.prefetch(opts.parallelism);
    const { consumerTag } = await ch.consume(
      opts.queue,
      (msg) => {
        if (msg === null) return void ch.close().catch(() => {});
        inflight += 1;
        deliver(msg, ch)
          .catch((err: unknown) => log.error({ err: messageOf(err) }, 'dispatch failed'))
          .finally(() => {
            inflight -= 1;
            if (inflight === 0) for (const r of idle.splice(0)) r();
          });
      },
      { noAck: false },
    );
    current = { ch, tag: consumerTag };
    log.info({ parallelism: opts.parallelism }, 'dispatching');
  });
  await held.opened;

  return {
    stats,
    stop: async () => {
      stopping = true;
      if (current) await current.ch.cancel(current.tag).catch(() => {});
      if (inflight > 0) await Promise.race([new Promise<void>((r) => idle.push(r)), sleep(10_000)]);
      idle = [];
      await held.stop();
      await conn.close();
    },
  };
}
