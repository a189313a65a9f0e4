import type { AnyEvent } from './events/event.ts';
import type { ModelsConfig } from './config/models.ts';
import type { Settings } from './config/settings.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics/index.ts';
import type { Telemetry } from './telemetry/index.ts';
import type { ModelClient } from './models/types.ts';
import type { Store } from './store/types.ts';
import type { RulesCache } from './rules.ts';

/**
 * What a function gets at start: its dependencies, passed in (no module-level singletons).
 * A handler is `(event, ctx) => Promise<void>` and knows nothing of HTTP, RabbitMQ or Knative.
 */
export interface FunctionContext {
  readonly settings: Settings;
  readonly config: ModelsConfig;
  readonly store: Store;
  readonly model: ModelClient;
  readonly rules: RulesCache;
  readonly log: Logger;
  /** Publishes an event (bus.publish). */
  emit(event: AnyEvent): Promise<void>;
  /** This process's name, used as event source and as synthesis claimant. */
  readonly instance: string;
  /** The process's Prometheus metrics (`GET /metrics`); absent in contexts built by hand. */
  readonly metrics?: Metrics;
  /** The process's tracing (noTelemetry when off); absent in contexts built by hand. */
  readonly telemetry?: Telemetry;
}

/** Per-delivery extras: the attempt number and a signal aborted when the job is cancelled. */
export interface DeliveryInfo {
  attempt: number;
  signal: AbortSignal;
}

export type Handler<E extends AnyEvent = AnyEvent> = (event: E, ctx: FunctionContext, info: DeliveryInfo) => Promise<void>;
