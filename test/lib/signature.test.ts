import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { decode, encode } from '../../functions/lib/bus/amqp/codec.ts';
import { ConfigError } from '../../functions/lib/errors.ts';
import { canonicalJson, EventSignatureError, eventKeysFrom, EventTypes, makeEvent, SIGNATURE_ATTRIBUTE, signEvent, toCloudEvent, verifyEvent } from '../../functions/lib/events/index.ts';
import { readCloudEvent } from '../../functions/lib/http/cloudevents.ts';
import { PREVIOUS_EVENT_KEY, previousEventKeys, strangerEventKeys, TEST_EVENT_KEY, testEventKeys } from '../support/event-keys.ts';

const jobId = '33333333-3333-4333-8333-333333333333';
const ev = makeEvent(EventTypes.jobFailed, { jobId, error: 'boom ✓ \ud83d\ude00' }, { source: '/merger-1', jobid: jobId, owner: 'splitter-1' });
const rotated = eventKeysFrom([TEST_EVENT_KEY, PREVIOUS_EVENT_KEY])!;

describe('signed events', () => {
  test('canonical JSON sorts keys at every level, so a round trip that reorders them signs the same', () => {
    assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
    assert.equal(canonicalJson(JSON.parse('{"z":{"y":1,"x":2},"a":null}')), canonicalJson({ a: null, z: { x: 2, y: 1 } }));
  });

  test('the signature travels as the aiprocsig extension in every binding and verifies after each', () => {
    const ce = toCloudEvent(ev, testEventKeys);
    assert.match(String(ce[SIGNATURE_ATTRIBUTE]), /^v1,[A-Za-z0-9_-]{43}$/);
    const { content, properties } = encode(ev, testEventKeys);
    assert.equal(properties.headers[`ce-${SIGNATURE_ATTRIBUTE}`], ce[SIGNATURE_ATTRIBUTE]);
    assert.deepEqual(decode({ content, properties }, testEventKeys), ev);
    for (const msg of [HTTP.binary(ce), HTTP.structured(ce)]) {
      assert.deepEqual(readCloudEvent(msg.headers as Record<string, string>, msg.body as string, testEventKeys), ev);
    }
  });

  test('any change to id, type, source, time or data breaks it', () => {
    const sig = signEvent(ev, testEventKeys);
    verifyEvent(ev, sig, testEventKeys);
    const changes = [{ id: 'other' }, { type: EventTypes.jobCompleted }, { source: '/evil' }, { time: '2020-01-01T00:00:00.000Z' }, { data: { ...ev.data, error: 'fine' } }];
    for (const change of changes) assert.throws(() => verifyEvent({ ...ev, ...change }, sig, testEventKeys), EventSignatureError, JSON.stringify(change));
    assert.throws(() => verifyEvent(ev, undefined, testEventKeys), /unsigned event/);
    assert.throws(() => verifyEvent(ev, 'v2,abc', testEventKeys), /not a v1 signature/);
  });

  test('the same instant written differently (a binding dropping the milliseconds) still verifies', () => {
    const at = makeEvent(EventTypes.jobFailed, ev.data, { source: '/m', time: '2026-12-01T10:00:00Z' });
    verifyEvent({ ...at, time: '2026-12-01T10:00:00.000Z' }, signEvent(at, testEventKeys), testEventKeys);
  });

  test('rotation: the first key signs; every listed key verifies; a key taken off the list no longer does', () => {
    assert.equal(signEvent(ev, rotated), signEvent(ev, testEventKeys));
    verifyEvent(ev, signEvent(ev, previousEventKeys), rotated);
    assert.throws(() => verifyEvent(ev, signEvent(ev, previousEventKeys), testEventKeys), /matches none of AIPROC_EVENT_KEYS/);
    assert.throws(() => verifyEvent(ev, signEvent(ev, strangerEventKeys), rotated), EventSignatureError);
  });

  test('keys: none is null; a short one stops the start naming the setting', () => {
    assert.equal(eventKeysFrom([]), null);
    assert.throws(() => eventKeysFrom(['short']), (e: unknown) => e instanceof ConfigError && /AIPROC_EVENT_KEYS: key #1 is 5 characters/.test(e.message));
  });
});
