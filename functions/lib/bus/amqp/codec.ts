import { CloudEvent } from 'cloudevents';
import { BadInputError, messageOf } from '../../errors.ts';
import { fromCloudEvent, toCloudEvent, type AnyEvent, type EventKeys } from '../../events/index.ts';

/**
 * CloudEvents over AMQP 0-9-1, binary mode: attributes in `ce-*` headers, data as the body.
 * This is what Knative's RabbitMQ source reads (eventing-rabbitmq pkg/adapter/message.go): it
 * lower-cases header names, maps `ce-*` to attributes/extensions, and takes `datacontenttype`
 * from a `content-type` HEADER in older releases but from the AMQP `content_type` property in
 * newer ones — so both are set. Every header value is a string: older releases type-assert
 * header values to strings (newer ones format any value).
 */

/** Properties of an outgoing message, in amqplib's `Options.Publish` shape. */
export interface EncodedProperties {
  contentType: string;
  messageId: string;
  type: string;
  timestamp: number;
  persistent: true;
  headers: Record<string, string>;
}

/** A received message as far as decoding cares (amqplib's `Message` fits). */
export interface IncomingMessage {
  content: Buffer;
  properties: { contentType?: string | undefined; headers?: Record<string, unknown> | undefined };
}

const CE_PREFIX = 'ce-';
const STRUCTURED = 'application/cloudevents+json';

/**
 * The body and properties for an event, signed (`ce-aiprocsig`) when `keys` are given.
 * @example const { content, properties } = encode(ev, keys); ch.publish(exchange, key, content, properties)
 */
export function encode(ev: AnyEvent, keys: EventKeys | null = null): { content: Buffer; properties: EncodedProperties } {
  const ce = toCloudEvent(ev, keys);
  const contentType = ce.datacontenttype ?? 'application/json';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ce.toJSON())) {
    if (k === 'data' || k === 'data_base64' || k === 'datacontenttype' || v === undefined || v === null) continue;
    headers[CE_PREFIX + k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  headers['content-type'] = contentType;
  return {
    content: Buffer.from(JSON.stringify(ce.data ?? null), 'utf8'),
    properties: {
      contentType,
      messageId: ev.id,
      type: ev.type,
      timestamp: Math.floor(Date.parse(ev.time) / 1000),
      persistent: true,
      headers,
    },
  };
}

const headerText = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : v === undefined || v === null ? undefined : String(v);

/**
 * The event in a received message (binary mode, or structured mode by content type).
 * Throws BadInputError with the reason when it is not a valid aiproc event, EventSignatureError
 * when `keys` are given and it is not signed with one of them.
 * @example const ev = decode(msg, keys)
 */
export function decode(msg: IncomingMessage, keys: EventKeys | null = null): AnyEvent {
  const raw = msg.properties.headers ?? {};
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const text = headerText(v);
    if (text !== undefined) headers[k.toLowerCase()] = text;
  }
  const contentType = headers['content-type'] ?? msg.properties.contentType;
  let ce: CloudEvent<unknown>;
  try {
    if (contentType?.startsWith(STRUCTURED)) {
      ce = new CloudEvent<unknown>(JSON.parse(msg.content.toString('utf8')) as object);
    } else if (headers['ce-specversion'] !== undefined) {
      const attrs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(headers)) if (k.startsWith(CE_PREFIX)) attrs[k.slice(CE_PREFIX.length)] = v;
      if (contentType !== undefined) attrs['datacontenttype'] = contentType;
      attrs['data'] = msg.content.toString('utf8');
      ce = new CloudEvent<unknown>(attrs as never);
    } else {
      throw new BadInputError('not a CloudEvent: no ce-specversion header and not application/cloudevents+json');
    }
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`not a valid CloudEvent: ${messageOf(err)}${describeValidation(err)}`);
  }
  return fromCloudEvent(ce, keys);
}

function describeValidation(err: unknown): string {
  const errors = (err as { errors?: unknown })?.errors;
  return Array.isArray(errors) && errors.length > 0 ? ` (${JSON.stringify(errors).slice(0, 300)})` : '';
}
