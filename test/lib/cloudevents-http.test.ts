import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { BadInputError, NotFoundError, RetryLaterError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent, SIGNATURE_ATTRIBUTE, signEvent, toCloudEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { cloudEventsApp } from '../../functions/lib/http/cloudevents.ts';
import { createLogger } from '../../functions/lib/log.ts';
import { testEventKeys } from '../support/event-keys.ts';

const jobId = '22222222-2222-4222-8222-222222222222';
const completed = makeEvent(
  EventTypes.taskCompleted,
  { jobId, index: 0, model: 'm', output: 'hi', usage: { promptTokens: 1, completionTokens: 2 }, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), attempts: 1 },
  { source: '/test', jobid: jobId, model: 'm', owner: 'o1' },
);

function appWith(handle: (e: AnyEvent) => Promise<void>) {
  return cloudEventsApp(handle, { log: createLogger('silent'), accepts: [EventTypes.taskCompleted, EventTypes.taskFailed], bodyLimit: 100_000, keys: testEventKeys });
}

describe('a function takes CloudEvents over HTTP as Knative delivers them', () => {
  test('binary mode: 202 and the handler gets typed data with the jobid/model/owner extensions', async () => {
    const got: AnyEvent[] = [];
    const msg = HTTP.binary(toCloudEvent(completed, testEventKeys));
    const res = await appWith(async (e) => void got.push(e)).request('/', { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    assert.equal(res.status, 202);
    assert.equal(got.length, 1);
    assert.deepEqual({ ...got[0] }, { ...completed });
  });

  test('structured mode: 202, same event', async () => {
    const got: AnyEvent[] = [];
    const msg = HTTP.structured(toCloudEvent(completed, testEventKeys));
    const res = await appWith(async (e) => void got.push(e)).request('/', { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    assert.equal(res.status, 202);
    assert.equal(got[0]!.id, completed.id);
    assert.equal((got[0]!.data as { output: string }).output, 'hi');
  });

  test('missing required attributes → 400 with the reason', async () => {
    const res = await appWith(async () => {}).request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': EventTypes.taskCompleted },
      body: '{}',
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /not a CloudEvent: no id \(header ce-id\)/);
  });

  test('a structured event without source, or binary without specversion, is refused naming it (the SDK would invent one)', async () => {
    let ran = false;
    const app = appWith(async () => void (ran = true));
    const structured = JSON.parse(HTTP.structured(toCloudEvent(completed, testEventKeys)).body as string);
    delete structured.source;
    const res = await app.request('/', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(structured) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /not a CloudEvent: no source \(in the body\)/);
    const msg = HTTP.binary(toCloudEvent(completed, testEventKeys));
    const headers = { ...(msg.headers as Record<string, string>) };
    delete headers['ce-specversion'];
    const res2 = await app.request('/', { method: 'POST', headers, body: msg.body as string });
    assert.equal(res2.status, 400);
    assert.equal(ran, false);
  });

  test('an event over the size limit is a 400 (never retried), not a 413', async () => {
    const msg = HTTP.binary(toCloudEvent(completed, testEventKeys));
    const app = cloudEventsApp(async () => {}, { log: createLogger('silent'), accepts: [EventTypes.taskCompleted], bodyLimit: 100, keys: testEventKeys });
    const res = await app.request('/', { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    assert.equal(res.status, 400);
  });

  test('data failing its schema → 400 naming the field; the handler never runs', async () => {
    let ran = false;
    const msg = HTTP.binary(toCloudEvent(completed, testEventKeys));
    const badData = { ...JSON.parse(msg.body as string), usage: { promptTokens: -1, completionTokens: 0 } };
    // Signed as it is: what a buggy function would send, not a forgery.
    const headers = { ...(msg.headers as Record<string, string>), [`ce-${SIGNATURE_ATTRIBUTE}`]: signEvent({ ...completed, data: badData }, testEventKeys) };
    const res = await appWith(async () => void (ran = true)).request('/', { method: 'POST', headers, body: JSON.stringify(badData) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /data\.usage\.promptTokens/);
    assert.equal(ran, false);
  });

  test('a type this function does not take → 400', async () => {
    const other = makeEvent(EventTypes.jobFailed, { jobId, error: 'x' }, { source: '/t', owner: 'o', jobid: jobId });
    const msg = HTTP.binary(toCloudEvent(other, testEventKeys));
    const res = await appWith(async () => {}).request('/', { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    assert.equal(res.status, 400);
  });

  test('the handler\'s error kind decides the status: 503 try again, 400 never', async () => {
    const msg = HTTP.binary(toCloudEvent(completed, testEventKeys));
    const send = (err: Error) => appWith(async () => Promise.reject(err)).request('/', { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    assert.equal((await send(new RetryLaterError('store down'))).status, 503);
    assert.equal((await send(new BadInputError('never'))).status, 400);
    assert.equal((await send(new NotFoundError('no job'))).status, 400, 'Knative retries 404; a missing job never appears');
  });
});
