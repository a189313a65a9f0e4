import type { ConfirmChannel, Message, Options } from 'amqplib';
import { BadInputError, RetryLaterError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { AmqpConnection, HeldChannel } from './connection.ts';

interface Pending {
  exchange: string;
  key: string;
  content: Buffer;
  options: Options.Publish;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
  done: Promise<void>;
  returned: boolean;
  sentOn: ConfirmChannel | null;
}

const returnKey = (exchange: string, key: string, messageId: unknown) => `${exchange}\u0000${key}\u0000${String(messageId)}`;

/**
 * Publishes on a confirm channel and resolves each message once RabbitMQ confirmed it. Messages
 * not confirmed when the channel or connection dies are sent again on the next channel (so a
 * consumer may see one twice: they dedup by event id). While disconnected, messages wait, up to
 * `timeoutMs`, then fail with RetryLaterError.
 */
export class ConfirmPublisher {
  readonly #conn: AmqpConnection;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #ch: ConfirmChannel | null = null;
  #paused = false;
  #waiting: Pending[] = [];
  readonly #mandatory = new Map<string, Pending>();
  readonly #unsettled = new Set<Pending>();
  #held: HeldChannel | null = null;
  /** Messages sent again after a channel died unconfirmed (for tests and logs). */
  republished = 0;

  constructor(conn: AmqpConnection, log: Logger, timeoutMs = 30_000) {
    this.#conn = conn;
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  start(): void {
    this.#held = this.#conn.keepChannel<ConfirmChannel>(
      'publisher',
      true,
      async (ch) => {
        ch.on('return', (msg: Message) => {
          const p = this.#mandatory.get(returnKey(msg.fields.exchange, msg.fields.routingKey, msg.properties.messageId));
          if (p) p.returned = true;
        });
        ch.on('drain', () => {
          this.#paused = false;
          this.#flush();
        });
        this.#ch = ch;
        this.#paused = false;
        this.#flush();
      },
      (ch) => {
        if (this.#ch === ch) this.#ch = null;
      },
    );
  }

  /**
   * Resolves once RabbitMQ confirmed the message. `mandatory`: fail when no queue takes it.
   * @example await publisher.publish('aiproc.tasks', 'codellama-7b', content, properties, true)
   */
  publish(exchange: string, key: string, content: Buffer, options: Options.Publish, mandatory = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let markDone: () => void = () => {};
      const p: Pending = {
        exchange,
        key,
        content,
        options: { ...options, mandatory },
        resolve: () => {
          markDone();
          resolve();
        },
        reject: (err) => {
          markDone();
          reject(err);
        },
        settled: false,
        done: new Promise<void>((r) => (markDone = r)),
        returned: false,
        sentOn: null,
        timer: setTimeout(() => {
          this.#settle(p, new RetryLaterError(`RabbitMQ did not confirm a message to ${exchange} within ${this.#timeoutMs} ms (is it reachable? AMQP_URL)`));
        }, this.#timeoutMs),
      };
      if (mandatory) this.#mandatory.set(returnKey(exchange, key, options.messageId), p);
      this.#unsettled.add(p);
      this.#waiting.push(p);
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#ch && !this.#paused && this.#waiting.length > 0) {
      const p = this.#waiting.shift() as Pending;
      if (p.settled) continue;
      const ch = this.#ch;
      p.sentOn = ch;
      p.returned = false;
      try {
        const ok = ch.publish(p.exchange, p.key, p.content, p.options, (err) => this.#confirmed(p, ch, err));
        if (!ok) this.#paused = true;
      } catch (err) {
        // The channel closed under us (IllegalOperationError): wait for the next one.
        this.#log.debug({ err: (err as Error).message }, 'publish on a closed channel; will resend');
        if (this.#ch === ch) this.#ch = null;
        this.#waiting.unshift(p);
      }
    }
  }

  #confirmed(p: Pending, ch: ConfirmChannel, err: unknown): void {
    if (p.settled || p.sentOn !== ch) return;
    if (err === null || err === undefined) {
      if (p.returned) this.#settle(p, new BadInputError(`no queue is bound to ${p.exchange} for "${p.key}" (unknown model?)`));
      else this.#settle(p);
      return;
    }
    if ((err as Error).message === 'message nacked') {
      this.#settle(p, new RetryLaterError(`RabbitMQ refused a message to ${p.exchange} (queue full or unavailable)`));
      return;
    }
    // 'channel closed': unknown whether it arrived; send again on the next channel.
    if (this.#ch === ch) this.#ch = null;
    p.sentOn = null;
    this.republished += 1;
    this.#waiting.push(p);
    this.#flush();
  }

  #settle(p: Pending, err?: Error): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    this.#unsettled.delete(p);
    const k = returnKey(p.exchange, p.key, p.options.messageId);
    if (this.#mandatory.get(k) === p) this.#mandatory.delete(k);
    if (err) p.reject(err);
    else p.resolve();
  }

  /** Messages published and not yet confirmed or failed. */
  get pending(): number {
    return this.#unsettled.size;
  }

  /** Waits (up to `ms`) until every message published so far is confirmed or failed. */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#unsettled.size > 0 && Date.now() < deadline) {
      await Promise.race([...this.#unsettled].map((p) => p.done));
    }
  }

  async stop(): Promise<void> {
    await this.#held?.stop();
    for (const p of this.#waiting) this.#settle(p, new RetryLaterError('the AMQP bus is closing'));
    this.#waiting = [];
  }

  get done(): Promise<void> {
    return this.#held?.done ?? Promise.resolve();
  }
}
