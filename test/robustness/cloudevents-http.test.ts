import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventTypes, type AnyEvent } from '../../functions/lib/events/index.ts';
import { cloudEventsApp } from '../../functions/lib/http/cloudevents.ts';
import { createLogger } from '../../functions/lib/log.ts';
import { testEventKeys } from '../support/event-keys.ts';

// serve.ts mounts cloudEventsApp at POST / of the merger, inference and feedback functions (what
// Knative's RabbitMQ source and n8n call). Issue 2: "a CloudEvent missing required attributes or
// failing its data schema → 400 with the reason". The splitter's /v1/feedback does validate (and
// refuses an event without id, since it cannot be deduplicated); this face does not.
const handled: AnyEvent[] = [];
const app = cloudEventsApp(async (ev) => void handled.push(ev), {
  log: createLogger('silent'),
  accepts: [EventTypes.ruleProposed, EventTypes.feedbackRated, EventTypes.performanceReported],
  bodyLimit: 100_000,
  keys: testEventKeys,
});
const data = JSON.stringify({ scope: 'planner', text: 'Answer briefly.' });

const cases: Array<[string, RequestInit]> = [
  ['binary mode without ce-source', { headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': EventTypes.ruleProposed, 'ce-id': 'r-1' }, body: data }],
  ['binary mode without ce-specversion', { headers: { 'content-type': 'application/json', 'ce-type': EventTypes.ruleProposed, 'ce-source': 'n8n', 'ce-id': 'r-2' }, body: data }],
  [
    'structured mode without id (the SDK invents one, so a redelivery is stored twice)',
    { headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '1.0', type: EventTypes.ruleProposed, source: 'n8n', data: JSON.parse(data) }) },
  ],
];

for (const [what, init] of cases) {
  test(`POST / refuses a CloudEvent ${what} with 400`, async () => {
    const before = handled.length;
    const res = await app.request('/', { method: 'POST', ...init });
    assert.equal(res.status, 400, `got ${res.status}; the handler ran with ${JSON.stringify(handled.slice(before).map((e) => ({ id: e.id, source: e.source })))}`);
    assert.equal(handled.length, before);
  });
}

// docs/architecture.md: Knative's RabbitMQ source retries 404, 413, 425, 429, 502, 503 and 504; "a function answers
// 503/429 for 'try again', 400 for 'never'". An event over the body limit can never succeed, yet
// POST / answers 413, which the source (and the local dispatcher, RETRIED_STATUSES) retries.
test('POST / answers an event that is too large with a status the RabbitMQ source does not retry', async () => {
  const { RETRIED_STATUSES } = await import('../../functions/lib/bus/amqp/dispatcher.ts');
  const small = cloudEventsApp(async () => {}, { log: createLogger('silent'), accepts: [EventTypes.ruleProposed], bodyLimit: 1024, keys: testEventKeys });
  const res = await small.request('/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': EventTypes.ruleProposed, 'ce-source': 'n8n', 'ce-id': 'big-1' },
    body: JSON.stringify({ scope: 'planner', text: 'x'.repeat(4000) }),
  });
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  assert.ok(!RETRIED_STATUSES.has(res.status), `answered ${res.status}: the source retries it ${'`delivery.retry`'} times before dead-lettering`);
});
