import type { AnyEvent } from '../events/event.ts';

/** What a consumer does with one delivery. Throwing a retryable error (isRetryable) retries it. */
export type Deliver = (event: AnyEvent, info: { attempt: number; signal: AbortSignal }) => Promise<void>;

export interface ConsumeOptions {
  /** Deliveries in flight at once (per-model concurrency, prefetch). */
  concurrency: number;
  /** Attempts before the message is dead-lettered (task queues: becomes task.failed). */
  attempts: number;
  /**
   * Called when a delivery is given up on (bad input, or retries spent), before it is dropped from
   * the queue; `error` is what the last attempt threw, for decisions by kind.
   */
  onDeadLetter?: (event: AnyEvent, reason: string, attempts: number, error: unknown) => Promise<void>;
}

/**
 * The queues as one object, with two implementations of the same semantics: the in-process bus
 * (embedded default) and RabbitMQ (amqplib). Queue names are those of topology.ts.
 */
export interface Bus {
  /** Routes the event (topology.routeOf) and also offers it to the events topic. Resolves once accepted (confirmed). */
  publish(event: AnyEvent): Promise<void>;
  /** Consumes a queue until the returned function is called. */
  consume(queue: string, deliver: Deliver, options: ConsumeOptions): Promise<() => Promise<void>>;
  /** Watches every event (the `aiproc.events` topic), e.g. for monitoring or webhooks. `pattern` is an AMQP topic pattern. */
  watch(pattern: string, onEvent: (event: AnyEvent) => void): Promise<() => Promise<void>>;
  /** Aborts in-flight deliveries of a job (the client went away). Best effort across processes. */
  cancelJob(jobId: string): void;
  close(): Promise<void>;
}
