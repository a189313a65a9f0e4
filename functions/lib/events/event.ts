import { randomUUID } from 'node:crypto';
import { CloudEvent, type CloudEventV1 } from 'cloudevents';
import { BadInputError } from '../errors.ts';
import { requireWellFormed } from '../well-formed.ts';
import { DataSchemas, type EventDataMap, type EventType } from './schemas.ts';
import { SIGNATURE_ATTRIBUTE, signEvent, verifyEvent, type EventKeys } from './signature.ts';

/**
 * The event as handlers see it: CloudEvents attributes plus parsed, typed data.
 * `jobid`, `model` and `owner` are CloudEvent extensions (letters and digits only, as
 * RabbitMQ bindings, Knative filters and n8n need); `owner` names the splitter instance
 * that relays a job's replies.
 */
export interface AiprocEvent<T extends EventType = EventType> {
  readonly id: string;
  readonly type: T;
  readonly source: string;
  readonly time: string;
  readonly jobid?: string;
  readonly model?: string;
  readonly owner?: string;
  /** W3C trace context (CloudEvents distributed-tracing extension): the span that sent the event. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly data: EventDataMap[T];
}

export type AnyEvent = { [K in EventType]: AiprocEvent<K> }[EventType];

const isEventType = (t: string): t is EventType => Object.hasOwn(DataSchemas, t);

/**
 * Builds a validated, frozen event. Throws BadInputError naming the field when data is wrong.
 * @example makeEvent(EventTypes.jobFailed, { jobId, error: 'boom' }, { source: '/merger', jobid: jobId })
 */
export function makeEvent<T extends EventType>(
  type: T,
  data: EventDataMap[T],
  attrs: { source: string; jobid?: string; model?: string; owner?: string; id?: string; time?: string; traceparent?: string; tracestate?: string },
): AiprocEvent<T> {
  const parsed = parseData(type, data);
  const ev: AiprocEvent<T> = {
    id: attrs.id ?? randomUUID(),
    type,
    source: attrs.source,
    time: attrs.time ?? new Date().toISOString(),
    ...(attrs.jobid !== undefined && { jobid: attrs.jobid }),
    ...(attrs.model !== undefined && { model: attrs.model }),
    ...(attrs.owner !== undefined && { owner: attrs.owner }),
    ...(attrs.traceparent !== undefined && { traceparent: attrs.traceparent }),
    ...(attrs.tracestate !== undefined && { tracestate: attrs.tracestate }),
    data: parsed,
  };
  return Object.freeze(ev);
}

/** Validates data against its type's schema; the error names the field. */
export function parseData<T extends EventType>(type: T, data: unknown): EventDataMap[T] {
  const schema = DataSchemas[type];
  const r = schema.safeParse(data);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first?.path.length ? `data.${first.path.join('.')}` : 'data';
    throw new BadInputError(`${type}: ${where}: ${first?.message ?? 'invalid'}`, { param: where });
  }
  return r.data as EventDataMap[T];
}

/**
 * Turns a received CloudEvent (any binding) into a typed event, or throws BadInputError with the
 * reason. With `keys`, the event must carry a valid signature (EventSignatureError otherwise),
 * checked before its data is looked at.
 * @example const ev = fromCloudEvent(HTTP.toEvent({ headers, body }), keys)
 */
export function fromCloudEvent(ce: CloudEventV1<unknown>, keys: EventKeys | null = null): AnyEvent {
  if (!isEventType(ce.type)) throw new BadInputError(`unknown event type "${ce.type}"`, { param: 'type' });
  let data: unknown = ce.data ?? ce.data_base64;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      throw new BadInputError(`${ce.type}: data is not JSON`, { param: 'data' });
    }
  } else if (data instanceof Uint8Array) {
    try {
      data = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      throw new BadInputError(`${ce.type}: data is not JSON`, { param: 'data' });
    }
  }
  if (keys) verifyEvent({ id: ce.id, type: ce.type, source: ce.source, time: ce.time ?? '', data }, ce[SIGNATURE_ATTRIBUTE], keys);
  requireWellFormed(data, 'data');
  const ext = (k: string) => (typeof ce[k] === 'string' ? (ce[k] as string) : undefined);
  return makeEvent(ce.type, parseData(ce.type, data) as never, {
    id: ce.id,
    source: ce.source,
    time: ce.time ?? new Date().toISOString(),
    jobid: ext('jobid'),
    model: ext('model'),
    owner: ext('owner'),
    traceparent: ext('traceparent'),
    tracestate: ext('tracestate'),
  }) as AnyEvent;
}

/**
 * The CloudEvent for an event, for any binding (HTTP binary/structured, AMQP headers); signed
 * (the `aiprocsig` extension) when `keys` are given.
 * @example HTTP.binary(toCloudEvent(ev, keys))
 */
export function toCloudEvent(ev: AiprocEvent, keys: EventKeys | null = null): CloudEvent<unknown> {
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id: ev.id,
    type: ev.type,
    source: ev.source,
    time: ev.time,
    datacontenttype: 'application/json',
    data: ev.data,
    ...(ev.jobid !== undefined && { jobid: ev.jobid }),
    ...(ev.model !== undefined && { model: ev.model }),
    ...(ev.owner !== undefined && { owner: ev.owner }),
    ...(ev.traceparent !== undefined && { traceparent: ev.traceparent }),
    ...(ev.tracestate !== undefined && { tracestate: ev.tracestate }),
    ...(keys && { [SIGNATURE_ATTRIBUTE]: signEvent(ev, keys) }),
  });
}
