import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode } from '../../functions/lib/bus/amqp/codec.ts';
import { BadInputError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent } from '../../functions/lib/events/index.ts';
import { taskEvent } from './amqp-support.ts';

test('codec: an event survives encode → decode unchanged', () => {
  const ev = taskEvent('codellama-7b', 2);
  const { content, properties } = encode(ev);
  assert.deepEqual(decode({ content, properties }), ev);
});

test('codec: headers are what Knative RabbitmqSource reads in binary mode', () => {
  const ev = taskEvent('codellama-7b', 0);
  const { content, properties } = encode(ev);
  // The adapter type-asserts every header value to a string and lower-cases names.
  for (const [k, v] of Object.entries(properties.headers)) {
    assert.equal(typeof v, 'string', `header ${k} must be a string`);
    assert.equal(k, k.toLowerCase());
  }
  assert.deepEqual(properties.headers, {
    'ce-specversion': '1.0',
    'ce-id': ev.id,
    'ce-type': 'dev.aiproc.task.requested',
    'ce-source': '/test',
    'ce-time': ev.time,
    'ce-jobid': ev.jobid,
    'ce-model': 'codellama-7b',
    'ce-owner': 'splitter1',
    // datacontenttype comes from this header in the adapter, not from the AMQP property.
    'content-type': 'application/json',
  });
  assert.equal(properties.contentType, 'application/json');
  assert.equal(properties.messageId, ev.id);
  assert.equal(properties.persistent, true);
  assert.deepEqual(JSON.parse(content.toString('utf8')), ev.data);
});

test('codec: structured mode (application/cloudevents+json) is read too', () => {
  const ev = makeEvent(EventTypes.jobFailed, { jobId: crypto.randomUUID(), error: 'boom' }, { source: '/m', owner: 'o1' });
  const body = { specversion: '1.0', id: ev.id, type: ev.type, source: ev.source, time: ev.time, owner: 'o1', datacontenttype: 'application/json', data: ev.data };
  const got = decode({ content: Buffer.from(JSON.stringify(body)), properties: { contentType: 'application/cloudevents+json' } });
  assert.deepEqual(got, ev);
});

test('codec: header values sent as bytes by other clients are read as text', () => {
  const ev = taskEvent('m1');
  const { content, properties } = encode(ev);
  const asBytes = Object.fromEntries(Object.entries(properties.headers).map(([k, v]) => [k.toUpperCase(), Buffer.from(v)]));
  assert.deepEqual(decode({ content, properties: { headers: asBytes } }), ev);
});

test('codec: a message without CloudEvent headers is refused with the reason', () => {
  assert.throws(() => decode({ content: Buffer.from('hello'), properties: {} }), (err: unknown) => {
    assert.ok(err instanceof BadInputError);
    assert.match(err.message, /not a CloudEvent: no ce-specversion header/);
    return true;
  });
});

test('codec: an event whose data fails its schema is refused naming the field', () => {
  const ev = taskEvent('m1');
  const { properties } = encode(ev);
  assert.throws(() => decode({ content: Buffer.from(JSON.stringify({ jobId: 'not-a-uuid' })), properties }), (err: unknown) => {
    assert.ok(err instanceof BadInputError);
    assert.match(err.message, /dev\.aiproc\.task\.requested: data\.jobId/);
    return true;
  });
  assert.throws(() => decode({ content: Buffer.from('{not json'), properties }), /data is not JSON/);
  assert.throws(
    () => decode({ content: Buffer.from('{}'), properties: { headers: { ...properties.headers, 'ce-type': 'com.example.other' } } }),
    /unknown event type "com\.example\.other"/,
  );
});
