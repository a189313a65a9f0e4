import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ConfigError, messageOf } from '../errors.ts';
import type { AnyEvent } from '../events/event.ts';
import type { Attributes, SpanHandle, SpanKind as Kind, Telemetry } from './index.ts';

const KINDS: Record<Kind, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

/**
 * `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG`) as the specification names them; default
 * `parentbased_always_on`. An unknown name is a ConfigError naming the variable.
 * @example samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' })
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = (env['OTEL_TRACES_SAMPLER'] ?? 'parentbased_always_on').trim().toLowerCase();
  const arg = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  const ratio = () => {
    const r = arg === undefined || arg === '' ? 1 : Number(arg);
    if (!(r >= 0 && r <= 1)) throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got "${arg}"`);
    return new TraceIdRatioBasedSampler(r);
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      throw new ConfigError(
        `OTEL_TRACES_SAMPLER: unknown sampler "${name}" (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)`,
      );
  }
}

/** The OTLP exporter `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` names; it reads its endpoint and headers from the OTEL_* variables itself. */
async function exporterFromEnv(env: NodeJS.ProcessEnv): Promise<SpanExporter> {
  const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/protobuf').trim().toLowerCase();
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  if (protocol === 'http/protobuf') return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported; use http/protobuf (the default) or http/json`);
}

function handle(span: Span): SpanHandle {
  return {
    set: (a) => span.setAttributes(clean(a)),
    event: (name, a) => span.addEvent(name, a && clean(a)),
    end: (error) => {
      if (error !== undefined) fail(span, error);
      span.end();
    },
  };
}

function clean(a: Attributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v;
  return out;
}

function fail(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
  span.setAttribute('error.type', (error as { name?: string })?.name ?? 'Error');
}

/**
 * Tracing on: the OpenTelemetry SDK's tracer provider with a batch processor and the OTLP
 * exporter, an AsyncLocalStorage context manager and the W3C trace-context propagator. Nothing
 * is registered globally: the context manager, tracer and propagator live in this object, which
 * reaches the code through the function context.
 * @example const t = await startSdkTelemetry('aiproc-splitter', process.env)
 */
export async function startSdkTelemetry(serviceName: string, env: NodeJS.ProcessEnv): Promise<Telemetry> {
  const delay = Number(env['OTEL_BSP_SCHEDULE_DELAY'] ?? 5000);
  const provider = new TracerProvider({
    resource: detectResources({ detectors: [envDetector] }).merge(resourceFromAttributes({ 'service.name': serviceName })),
    sampler: samplerFromEnv(env),
    spanProcessors: [new BatchSpanProcessor({ exporter: await exporterFromEnv(env), scheduledDelayMillis: Number.isFinite(delay) && delay >= 0 ? delay : 5000 })],
  });
  const tracer = provider.getTracer('aiproc');
  const cm = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  const start = (name: string, opts: { kind?: Kind; attributes?: Attributes; parent?: unknown }) => {
    const parent = (opts.parent as Context | undefined) ?? cm.active();
    const span = tracer.startSpan(name, { kind: KINDS[opts.kind ?? 'internal'], ...(opts.attributes && { attributes: clean(opts.attributes) }) }, parent);
    return { span, ctx: trace.setSpan(parent, span) };
  };
  const fromCarrier = (carrier: Record<string, string>) => propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  return {
    enabled: true,
    async span(name, opts, fn) {
      const { span, ctx } = start(name, opts);
      return cm.with(ctx, async () => {
        try {
          return await fn(handle(span));
        } catch (err) {
          fail(span, err);
          throw err;
        } finally {
          span.end();
        }
      });
    },
    begin(name, opts, fn) {
      const { span, ctx } = start(name, opts);
      return cm.with(ctx, () => fn(handle(span)));
    },
    inject(ev) {
      const carrier: Record<string, string> = {};
      propagator.inject(cm.active(), carrier, defaultTextMapSetter);
      if (!carrier['traceparent']) return ev;
      return Object.freeze({ ...ev, traceparent: carrier['traceparent'], ...(carrier['tracestate'] && { tracestate: carrier['tracestate'] }) }) as unknown as typeof ev;
    },
    extract(ev: AnyEvent) {
      if (!ev.traceparent) return ROOT_CONTEXT;
      return fromCarrier({ traceparent: ev.traceparent, ...(ev.tracestate && { tracestate: ev.tracestate }) });
    },
    fromHeaders(h) {
      if (!h.traceparent) return ROOT_CONTEXT;
      return fromCarrier({ traceparent: h.traceparent, ...(h.tracestate && { tracestate: h.tracestate }) });
    },
    logFields(): Record<string, string> {
      const span = trace.getSpan(cm.active());
      if (!span) return {};
      const sc = span.spanContext();
      return { trace_id: sc.traceId, span_id: sc.spanId };
    },
    async shutdown() {
      await provider.shutdown().catch(() => {});
      cm.disable();
    },
  };
}
