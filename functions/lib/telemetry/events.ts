import type { AnyEvent } from '../events/event.ts';
import { TRACED_TYPES, shortType, type Telemetry } from './index.ts';

/** Messaging attributes of a span around one event (OpenTelemetry messaging conventions, plus the job). */
function attributesOf(ev: AnyEvent, operation: 'send' | 'process') {
  return {
    'messaging.system': 'aiproc',
    'messaging.operation.type': operation,
    'messaging.message.id': ev.id,
    'cloudevents.event_id': ev.id,
    'cloudevents.event_type': ev.type,
    'cloudevents.event_source': ev.source,
    'aiproc.job.id': ev.jobid,
    'aiproc.model': ev.model,
    'aiproc.part.index': (ev.data as { index?: number; part?: { index: number } }).part?.index ?? (ev.data as { index?: number }).index,
  };
}

/**
 * Sending an event: the hops of a job (TRACED_TYPES) get a producer span whose context travels
 * in the event (`traceparent`); the rest (progress, deltas) go as they are.
 * @example emit: tracedEmit(telemetry, (e) => bus.publish(e))
 */
export function tracedEmit(telemetry: Telemetry, publish: (ev: AnyEvent) => Promise<void>): (ev: AnyEvent) => Promise<void> {
  if (!telemetry.enabled) return publish;
  return (ev) => {
    if (!TRACED_TYPES.has(ev.type)) return publish(ev);
    return telemetry.span(`send ${shortType(ev.type)}`, { kind: 'producer', attributes: attributesOf(ev, 'send') }, () => publish(telemetry.inject(ev)));
  };
}

/**
 * Handling an event: a consumer span, child of the producer span the event names, around the work
 * (everything the handler does, model calls and events sent, nests under it).
 * @example bus.consume(queue, tracedDeliver(telemetry, (ev, info) => handler(ev, ctx, info)), opts)
 */
export function tracedDeliver<A extends unknown[]>(telemetry: Telemetry, deliver: (ev: AnyEvent, ...rest: A) => Promise<void>): (ev: AnyEvent, ...rest: A) => Promise<void> {
  if (!telemetry.enabled) return deliver;
  return (ev, ...rest) => {
    if (!TRACED_TYPES.has(ev.type)) return deliver(ev, ...rest);
    return telemetry.span(`process ${shortType(ev.type)}`, { kind: 'consumer', parent: telemetry.extract(ev), attributes: attributesOf(ev, 'process') }, () => deliver(ev, ...rest));
  };
}
