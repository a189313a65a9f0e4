import { ConfigError } from '../errors.ts';
import type { AnyEvent } from '../events/event.ts';

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type Attributes = Record<string, string | number | boolean | undefined>;

/** What code may do with the span it runs in. */
export interface SpanHandle {
  set(attributes: Attributes): void;
  /** Marks a moment inside the span (the first token, say). */
  event(name: string, attributes?: Attributes): void;
  /** Ends the span now (only for spans begun with `begin`). */
  end(error?: unknown): void;
}

/** An opaque parent: the active context, or one an event carried. */
export type Parent = unknown;

/**
 * Tracing as the functions see it: spans around work, trace context into and out of events
 * (the CloudEvents distributed-tracing extension: `traceparent`, `tracestate`). Two
 * implementations: `noTelemetry` (no endpoint set: nothing loaded, nothing done) and the
 * OpenTelemetry SDK (telemetry/sdk.ts, loaded only when an OTLP endpoint is set).
 */
export interface Telemetry {
  readonly enabled: boolean;
  /** Runs `fn` in a new span, child of `parent` (default: the span `fn`'s caller runs in); ends it when `fn` settles. */
  span<T>(name: string, opts: { kind?: SpanKind; attributes?: Attributes; parent?: Parent }, fn: (span: SpanHandle) => Promise<T>): Promise<T>;
  /** Starts a span that the caller ends (`end()`), and runs `fn` inside it, for work that outlives `fn` (a streamed response). */
  begin<T>(name: string, opts: { kind?: SpanKind; attributes?: Attributes; parent?: Parent }, fn: (span: SpanHandle) => T): T;
  /** The event with the current trace context in `traceparent`/`tracestate` (as it is when tracing is off). */
  inject<E extends AnyEvent>(ev: E): E;
  /** The trace context an event carries, as a parent for the span that handles it. */
  extract(ev: AnyEvent): Parent;
  /** A W3C `traceparent` header carried by an HTTP request, as a parent. */
  fromHeaders(headers: { traceparent?: string | undefined; tracestate?: string | undefined }): Parent;
  /** `trace_id` and `span_id` of the current span, for log lines (the pino mixin); `{}` outside spans. */
  logFields(): Record<string, string>;
  /** Sends what is still buffered and stops. */
  shutdown(): Promise<void>;
}

const noSpan: SpanHandle = { set: () => {}, event: () => {}, end: () => {} };

/** Tracing off: every method runs the work and nothing else. */
export const noTelemetry: Telemetry = {
  enabled: false,
  span: (_name, _opts, fn) => fn(noSpan),
  begin: (_name, _opts, fn) => fn(noSpan),
  inject: (ev) => ev,
  extract: () => undefined,
  fromHeaders: () => undefined,
  logFields: () => ({}),
  shutdown: async () => {},
};

/**
 * Whether the standard OTEL_* variables ask for traces: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), not switched off by
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase();
  if (exporter === 'none') return false;
  if (exporter && exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER: only "otlp" (or "none") is supported, got "${exporter}"`);
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() || env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim());
}

/**
 * The process's tracing, from the standard OTEL_* variables. With no OTLP endpoint set it is
 * `noTelemetry` and the SDK is never loaded (a dynamic import), so tracing off costs nothing.
 * `service` names this function (`aiproc-splitter`, `aiproc-inference-<slug>`, …);
 * `OTEL_SERVICE_NAME` replaces it when set.
 * @example const telemetry = await startTelemetry('aiproc-merger')
 */
export async function startTelemetry(service: string, env: NodeJS.ProcessEnv = process.env): Promise<Telemetry> {
  if (!tracingWanted(env)) return noTelemetry;
  const { startSdkTelemetry } = await import('./sdk.ts');
  return startSdkTelemetry(env['OTEL_SERVICE_NAME']?.trim() || service, env);
}

/** Event types that get a span of their own when sent and when handled: the hops of a job. */
export const TRACED_TYPES: ReadonlySet<string> = new Set([
  'dev.aiproc.task.requested',
  'dev.aiproc.task.completed',
  'dev.aiproc.task.failed',
  'dev.aiproc.job.completed',
  'dev.aiproc.job.failed',
  'dev.aiproc.feedback.rated',
  'dev.aiproc.rule.proposed',
]);

/** `dev.aiproc.task.requested` → `task.requested`, for span names. */
export const shortType = (type: string) => type.replace(/^dev\.aiproc\./, '');
