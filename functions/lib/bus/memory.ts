import { CancelledError, messageOf } from '../errors.ts';
import type { AnyEvent } from '../events/event.ts';
import type { Logger } from '../log.ts';
import { deliverWithRetries } from './retry.ts';
import { Exchanges, Queues, routeOf } from './topology.ts';
import type { Bus, ConsumeOptions, Deliver } from './types.ts';

interface Consumer {
  deliver: Deliver;
  options: ConsumeOptions;
  inFlight: number;
  stopped: boolean;
}

interface QueueState {
  messages: AnyEvent[];
  consumers: Consumer[];
}

/**
 * The embedded default's bus: the queues of the RabbitMQ topology held in memory, with the same
 * semantics — a queue per model, a concurrency limit per consumer, retries with back-off,
 * dead letters handed to `onDeadLetter` (task queues turn them into task.failed), nothing
 * dropped without a log line.
 * @example const bus = new MemoryBus({ log, retryDelayMs: 500 })
 */
export class MemoryBus implements Bus {
  readonly #queues = new Map<string, QueueState>();
  readonly #watchers = new Set<{ re: RegExp; onEvent: (e: AnyEvent) => void }>();
  readonly #inFlight = new Map<string, Set<AbortController>>();
  readonly #log: Logger;
  readonly #retryDelayMs: number;
  #closed = false;

  constructor(opts: { log: Logger; retryDelayMs?: number }) {
    this.#log = opts.log.child({ bus: 'memory' });
    this.#retryDelayMs = opts.retryDelayMs ?? 500;
  }

  async publish(event: AnyEvent): Promise<void> {
    if (this.#closed) throw new Error('bus is closed');
    const route = routeOf(event);
    const queue =
      route.kind === 'broadcast' ? undefined
      : route.kind === 'task' ? Queues.task(route.routingKey)
      : route.kind === 'result' ? Queues.results
      : route.kind === 'feedback' ? Queues.feedback
      : Queues.reply(route.routingKey);
    if (queue) this.#state(queue).messages.push(event);
    for (const w of this.#watchers) {
      if (w.re.test(event.type)) {
        try {
          w.onEvent(event);
        } catch (err) {
          this.#log.warn({ err: messageOf(err) }, `a watcher of ${Exchanges.events} threw`);
        }
      }
    }
    if (queue) queueMicrotask(() => this.#pump(queue));
  }

  async consume(queue: string, deliver: Deliver, options: ConsumeOptions): Promise<() => Promise<void>> {
    const consumer: Consumer = { deliver, options, inFlight: 0, stopped: false };
    this.#state(queue).consumers.push(consumer);
    queueMicrotask(() => this.#pump(queue));
    return async () => {
      consumer.stopped = true;
      const s = this.#state(queue);
      s.consumers = s.consumers.filter((c) => c !== consumer);
    };
  }

  async watch(pattern: string, onEvent: (event: AnyEvent) => void): Promise<() => Promise<void>> {
    const w = { re: topicToRegExp(pattern), onEvent };
    this.#watchers.add(w);
    return async () => {
      this.#watchers.delete(w);
    };
  }

  cancelJob(jobId: string): void {
    for (const ac of this.#inFlight.get(jobId) ?? []) ac.abort(new CancelledError('the client went away'));
    // Queued task messages of the job are left: the inference handler sees the job cancelled and skips them.
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const set of this.#inFlight.values()) for (const ac of set) ac.abort(new CancelledError('shutting down'));
  }

  /** Messages waiting in a queue (for tests and health). */
  depth(queue: string): number {
    return this.#queues.get(queue)?.messages.length ?? 0;
  }

  #state(queue: string): QueueState {
    let s = this.#queues.get(queue);
    if (!s) this.#queues.set(queue, (s = { messages: [], consumers: [] }));
    return s;
  }

  #pump(queue: string): void {
    const s = this.#state(queue);
    while (s.messages.length > 0) {
      const consumer = s.consumers.find((c) => !c.stopped && c.inFlight < c.options.concurrency);
      if (!consumer) return;
      const event = s.messages.shift()!;
      consumer.inFlight++;
      void this.#run(queue, consumer, event).finally(() => {
        consumer.inFlight--;
        this.#pump(queue);
      });
    }
  }

  async #run(queue: string, consumer: Consumer, event: AnyEvent): Promise<void> {
    const ac = new AbortController();
    const key = event.jobid ?? '';
    let set = this.#inFlight.get(key);
    if (!set) this.#inFlight.set(key, (set = new Set()));
    set.add(ac);
    let attempts = 0;
    try {
      await deliverWithRetries(
        async (attempt) => {
          attempts = attempt;
          await consumer.deliver(event, { attempt, signal: ac.signal });
        },
        {
          attempts: consumer.options.attempts,
          minDelayMs: this.#retryDelayMs,
          signal: ac.signal,
          onRetry: (err, attempt) => this.#log.warn({ queue, type: event.type, id: event.id, attempt, err: messageOf(err) }, 'delivery failed; retrying'),
        },
      );
    } catch (err) {
      if (err instanceof CancelledError || ac.signal.aborted) {
        this.#log.debug({ queue, id: event.id }, 'delivery cancelled');
        return;
      }
      const reason = messageOf(err);
      this.#log.error({ queue, type: event.type, id: event.id, jobid: event.jobid, attempts, reason }, 'dead-lettered');
      try {
        await consumer.options.onDeadLetter?.(event, reason, attempts, err);
      } catch (dlErr) {
        this.#log.error({ queue, id: event.id, err: messageOf(dlErr) }, 'dead-letter handler failed; the event is lost');
      }
    } finally {
      set.delete(ac);
      if (set.size === 0) this.#inFlight.delete(key);
    }
  }
}

/**
 * An AMQP topic pattern as a RegExp over dot-separated words: `*` one word, `#` zero or more.
 * @example topicToRegExp('dev.aiproc.job.#').test('dev.aiproc.job.delta') // true
 */
export function topicToRegExp(pattern: string): RegExp {
  const words = pattern.split('.').map((w) => (w === '#' ? '#' : w === '*' ? '[^.]+' : w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  let re = '';
  words.forEach((w, i) => {
    if (w === '#') re += i === 0 ? '(?:[^.]+(?:\\.[^.]+)*)?' : '(?:\\.[^.]+)*';
    else re += (i === 0 ? '' : '\\.') + w;
  });
  if (re.startsWith('(?:[^.]+(?:\\.[^.]+)*)?\\.')) re = '(?:[^.]+\\.)*' + re.slice('(?:[^.]+(?:\\.[^.]+)*)?\\.'.length);
  return new RegExp(`^${re}$`);
}
