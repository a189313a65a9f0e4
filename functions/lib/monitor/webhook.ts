import { HTTP } from 'cloudevents';
import type { Bus } from '../bus/types.ts';
import { toCloudEvent, type AnyEvent } from '../events/index.ts';
import type { Logger } from '../log.ts';
import { messageOf } from '../errors.ts';

export interface EventsWebhookOptions {
  readonly bus: Bus;
  /** Where every lifecycle event is POSTed (AIPROC_EVENTS_WEBHOOK_URL), e.g. an n8n Webhook node. */
  readonly url: string;
  readonly log: Logger;
  /** Sent as `Authorization: Bearer <token>` (AIPROC_EVENTS_WEBHOOK_TOKEN). */
  readonly token?: string;
  /** Events waiting to be sent; when full the oldest is dropped. @default 1000 */
  readonly queueSize?: number;
  /** Tries per event before it is dropped. @default 4 */
  readonly attempts?: number;
  /** First retry delay; doubles each try. @default 500 */
  readonly retryDelayMs?: number;
  /** Per-request timeout. @default 5000 */
  readonly timeoutMs?: number;
  /** The test seam. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface EventsWebhook {
  /** Counters since start: sent, dropped (queue full) and failed (tries spent or refused). */
  readonly stats: { sent: number; dropped: number; failed: number; queued: number };
  /** Stops watching; the send in flight is aborted and the queued events are dropped (monitoring is best effort). */
  stop(): Promise<void>;
}

/**
 * POSTs every lifecycle event (`bus.watch('#')`) to a URL as a binary-mode CloudEvent
 * (`ce-*` headers, the data as the JSON body), for n8n set-ups without RabbitMQ access.
 * The pipeline never waits on it: events go into a bounded queue sent one at a time, with
 * retries on network errors, 408, 429 and 5xx; a full queue drops its oldest event.
 * @example const hook = await startEventsWebhook({ bus, url: settings.AIPROC_EVENTS_WEBHOOK_URL, log })
 */
export async function startEventsWebhook(options: EventsWebhookOptions): Promise<EventsWebhook> {
  const { bus, url, log, token } = options;
  const queueSize = options.queueSize ?? 1000;
  const attempts = options.attempts ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 5000;
  const send = options.fetch ?? globalThis.fetch;
  const queue: AnyEvent[] = [];
  const stats = { sent: 0, dropped: 0, failed: 0, queued: 0 };
  const stopping = new AbortController();
  let wake: (() => void) | null = null;

  const unwatch = await bus.watch('#', (event) => {
    if (stopping.signal.aborted) return;
    if (queue.length >= queueSize) {
      queue.shift();
      // One line per hundred, so a dead n8n does not flood the log.
      if (stats.dropped++ % 100 === 0) log.warn({ url, dropped: stats.dropped }, 'events webhook queue full: dropping the oldest events');
    }
    queue.push(event);
    stats.queued = queue.length;
    wake?.();
  });

  async function deliver(event: AnyEvent): Promise<void> {
    const message = HTTP.binary(toCloudEvent(event));
    const headers: Record<string, string> = { ...(message.headers as Record<string, string>) };
    if (token) headers.authorization = `Bearer ${token}`;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let reason: string;
      try {
        const res = await send(url, { method: 'POST', headers, body: message.body as string, signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal]) });
        await res.body?.cancel();
        if (res.ok) {
          stats.sent++;
          return;
        }
        reason = `HTTP ${res.status}`;
        if (![408, 429].includes(res.status) && res.status < 500) {
          stats.failed++;
          log.warn({ url, eventId: event.id, type: event.type, status: res.status }, 'events webhook refused an event: not retried');
          return;
        }
      } catch (err) {
        reason = messageOf(err);
      }
      if (stopping.signal.aborted) return;
      if (attempt === attempts) {
        stats.failed++;
        log.warn({ url, eventId: event.id, type: event.type, reason, attempts }, 'events webhook: giving up on an event');
        return;
      }
      await delay(retryDelayMs * 2 ** (attempt - 1), stopping.signal);
    }
  }

  // One listener for the whole life of the worker (one per idle wait would pile up).
  stopping.signal.addEventListener('abort', () => wake?.(), { once: true });
  const worker = (async () => {
    while (!stopping.signal.aborted) {
      const event = queue.shift();
      stats.queued = queue.length;
      if (event) {
        await deliver(event);
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  })();

  log.info({ url }, 'lifecycle events are POSTed to the events webhook');
  return {
    stats,
    async stop() {
      await unwatch();
      stopping.abort();
      await worker;
      queue.length = 0;
      stats.queued = 0;
    },
  };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
