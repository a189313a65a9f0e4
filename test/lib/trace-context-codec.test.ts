import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HTTP } from 'cloudevents';
import { decode, encode } from '../../functions/lib/bus/amqp/codec.ts';
import { EventTypes, makeEvent, toCloudEvent } from '../../functions/lib/events/index.ts';
import { readCloudEvent } from '../../functions/lib/http/cloudevents.ts';

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const tracestate = 'vendor=opaque';
const ev = makeEvent(EventTypes.jobFailed, { jobId: crypto.randomUUID(), error: 'boom' }, { source: '/test', traceparent, tracestate });

test('the trace context travels as the CloudEvents distributed-tracing extension over AMQP (ce-traceparent headers)', () => {
  const { properties, content } = encode(ev);
  assert.equal(properties.headers['ce-traceparent'], traceparent);
  assert.equal(properties.headers['ce-tracestate'], tracestate);
  const back = decode({ content, properties });
  assert.equal(back.traceparent, traceparent);
  assert.equal(back.tracestate, tracestate);
});

test('the trace context travels over HTTP, binary and structured mode alike', () => {
  for (const message of [HTTP.binary(toCloudEvent(ev)), HTTP.structured(toCloudEvent(ev))]) {
    const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const back = readCloudEvent(headers, String(message.body));
    assert.equal(back.traceparent, traceparent);
    assert.equal(back.tracestate, tracestate);
  }
});

test('an event without trace context has none, and says so by leaving the attributes out', () => {
  const plain = makeEvent(EventTypes.jobFailed, { jobId: crypto.randomUUID(), error: 'boom' }, { source: '/test' });
  assert.ok(!('traceparent' in plain));
  assert.ok(!('ce-traceparent' in encode(plain).properties.headers));
});
