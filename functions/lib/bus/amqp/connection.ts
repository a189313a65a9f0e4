import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from 'amqplib';
import { ConfigError, messageOf } from '../../errors.ts';
import type { Logger } from '../../log.ts';

export interface AmqpConnectionOptions {
  /** `amqp://user:pass@host:port/vhost` (AMQP_URL). */
  url: string;
  log: Logger;
  /** Shown by `rabbitmqctl list_connections client_properties`, e.g. `aiproc merger@host`. */
  name: string;
  /** Runs on every (re)connect before channels open: declare the topology here. */
  setup?: (model: ChannelModel) => Promise<void>;
  /** Longest wait between reconnect attempts, ms. */
  maxDelayMs?: number;
}

/** A channel kept open by `keepChannel`. */
export interface HeldChannel {
  /** Stops reopening and closes the channel (its unacked deliveries go back to the queue). */
  stop(): Promise<void>;
  /** Settles once the keeper has stopped (after `stop()`, or after the connection closed). */
  readonly done: Promise<void>;
  /** Resolves after the first channel was opened and set up (a consumer is consuming, say). */
  readonly opened: Promise<void>;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * One AMQP connection that comes back by itself. amqplib's opt-in recovery reconnects with
 * exponential back-off and jitter and runs `setup` each time; channels die with the connection
 * (or alone, on a channel error), so whoever needs a channel holds it through `keepChannel`,
 * which opens a fresh one, with back-off, each time the last one closed.
 */
export class AmqpConnection {
  readonly #log: Logger;
  readonly #model: RecoveringChannelModel;
  #closed = false;
  #connects = 0;

  private constructor(model: RecoveringChannelModel, log: Logger) {
    this.#model = model;
    this.#log = log;
  }

  /**
   * Starts connecting (retrying for ever with back-off) and returns at once; `ready()` waits.
   * @example const conn = await AmqpConnection.open({ url: settings.AMQP_URL, log, name: 'aiproc merger' })
   */
  static async open(opts: AmqpConnectionOptions): Promise<AmqpConnection> {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new ConfigError(`AMQP_URL is not a URL: "${opts.url}" (expected amqp://user:password@host:5672/vhost)`);
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
      throw new ConfigError(`AMQP_URL must start with amqp:// or amqps://, got "${redactUrl(opts.url)}"`);
    }
    const where = redactUrl(opts.url);
    const model = await amqp.connect(opts.url, {
      clientProperties: { connection_name: opts.name },
      // amqplib leaves Nagle on: a lone publish or ack then waits for the peer's delayed ACK
      // (~40 ms a hop). Messages here are small and latency matters, so send at once.
      noDelay: true,
      recovery: {
        waitForConnect: false,
        initialDelay: 200,
        maxDelay: opts.maxDelayMs ?? 10_000,
        maxRetries: Infinity,
        ...(opts.setup && { setup: opts.setup }),
      },
    });
    const conn = new AmqpConnection(model, opts.log);
    model.on('connect', () => {
      conn.#connects += 1;
      opts.log.info({ amqp: where, connects: conn.#connects }, conn.#connects === 1 ? 'connected to RabbitMQ' : 'reconnected to RabbitMQ');
    });
    model.on('disconnect', (err: Error) => opts.log.warn({ amqp: where, err: err.message }, 'RabbitMQ connection lost; reconnecting'));
    model.on('reconnect-scheduled', ({ attempt, delay, error }: { attempt: number; delay: number; error: Error }) =>
      opts.log.error(
        { amqp: where, attempt, retryInMs: delay },
        `cannot connect to RabbitMQ at ${where} (AMQP_URL): ${error.message}; retrying in ${delay} ms`,
      ),
    );
    model.on('error', (err: Error) => opts.log.warn({ err: err.message }, 'RabbitMQ connection error'));
    model.on('handler-error', (err: Error, ev: string) => opts.log.error({ err: err.message, ev }, 'bug in an AMQP listener'));
    return conn;
  }

  /** Resolves once connected the first time. */
  async ready(): Promise<void> {
    await this.#model.waitForConnect();
  }

  /** How many times the connection was established (1 after start, more after reconnects). */
  get connects(): number {
    return this.#connects;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Keeps a channel open: `onOpen` runs on each new channel (set prefetch, consume, …); when the
   * channel closes, a new one is opened (waiting for the connection if it is down).
   * @example const held = conn.keepChannel('publisher', true, async (ch) => { … })
   */
  keepChannel<C extends Channel>(
    what: string,
    confirm: boolean,
    onOpen: (ch: C) => Promise<void>,
    onClose?: (ch: C) => void,
  ): HeldChannel {
    let stopped = false;
    let current: C | null = null;
    let wake: () => void = () => {};
    const stopSignal = new Promise<void>((r) => (wake = r));
    let markOpened: () => void = () => {};
    const opened = new Promise<void>((r) => (markOpened = r));
    const loop = async () => {
      let failures = 0;
      while (!stopped && !this.#closed) {
        let ch: C | null = null;
        try {
          ch = (confirm ? await this.#model.createConfirmChannel() : await this.#model.createChannel()) as C;
          const opened = ch;
          const closed = new Promise<void>((r) => opened.once('close', () => r()));
          opened.on('error', (err: Error) => this.#log.warn({ channel: what, err: err.message }, 'AMQP channel error'));
          opened.on('handler-error', (err: Error, ev: string) => this.#log.error({ channel: what, err: err.message, ev }, 'bug in an AMQP listener'));
          if (stopped) break;
          current = opened;
          await onOpen(opened);
          markOpened();
          failures = 0;
          await Promise.race([closed, stopSignal]);
          current = null;
          if (!stopped) onClose?.(opened);
        } catch (err) {
          current = null;
          if (ch) {
            onClose?.(ch);
            await ch.close().catch(() => {});
          }
          if (stopped || this.#closed) break;
          failures += 1;
          const delay = Math.min(10_000, 100 * 2 ** Math.min(failures, 7));
          this.#log.warn({ channel: what, err: messageOf(err), retryInMs: delay }, 'cannot open AMQP channel; retrying');
          await Promise.race([sleep(delay), stopSignal]);
        }
      }
    };
    const done = loop().finally(markOpened);
    return {
      done,
      opened,
      stop: async () => {
        stopped = true;
        wake();
        const ch = current;
        current = null;
        if (ch) await ch.close().catch(() => {});
      },
    };
  }

  /**
   * Runs one short operation on a channel of its own, closed afterwards (a queue check, say).
   * @example const n = await conn.once((ch) => ch.checkQueue('aiproc.results').then((q) => q.messageCount))
   */
  async once<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.#model.createChannel();
    ch.on('error', () => {});
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#model.close().catch(() => {});
  }
}
