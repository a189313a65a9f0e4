import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HTTP, CloudEvent } from 'cloudevents';
import { createFeedbackHttp } from '../../functions/feedback/http.ts';
import { createFeedbackAuth } from '../../functions/feedback/auth.ts';
import { RetryLaterError, ConfigError } from '../../functions/lib/errors.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { makeCtx, openStore, seedJob } from './support.ts';

const secretOld = `whsec_${randomBytes(24).toString('base64')}`;
const secretNew = `whsec_${randomBytes(24).toString('base64')}`;
const token = `tok-${randomUUID()}`;

/** Standard Webhooks, written out here from the spec rather than taken from the library under test. */
function sign(secret: string, id: string, body: string, at = Math.floor(Date.now() / 1000)) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${at}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': `v1,${sig}` };
}

function ratingEvent(data: Record<string, unknown>, id = randomUUID()) {
  return new CloudEvent({ specversion: '1.0', id, type: 'dev.aiproc.feedback.rated', source: 'n8n/feedback-sync', datacontenttype: 'application/json', data });
}

describe('feedback HTTP endpoint', () => {
  let store: Store;
  let app: ReturnType<typeof createFeedbackHttp>;
  before(async () => {
    store = await openStore();
    app = createFeedbackHttp(makeCtx(store, { AIPROC_FEEDBACK_TOKENS: `other,${token}`, AIPROC_WEBHOOK_SECRETS: `${secretOld},${secretNew}` }));
  });
  after(() => store.close());

  const scoresOf = async (jobId: string) => (await store.ratedJobs(1)).filter((r) => r.job.id === jobId).map((r) => r.score);
  const post = (headers: Record<string, string>, body: string) => app.request('/', { method: 'POST', headers, body });
  const binary = (ce: CloudEvent<unknown>, extra: Record<string, string> = {}) => {
    const m = HTTP.binary(ce);
    return post({ ...(m.headers as Record<string, string>), ...extra }, m.body as string);
  };
  async function expectError(res: Response, status: number, pattern: RegExp, param?: string) {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    assert.match(body.error.message, pattern);
    assert.equal(typeof body.error.type, 'string');
    assert.equal(typeof body.error.code, 'string');
    if (param !== undefined) assert.equal(body.error.param, param);
  }

  it('stores a binary-mode rating sent with a bearer token, linked to its job', async () => {
    const jobId = await seedJob(store);
    const res = await binary(ratingEvent({ jobId, rating: { thumbs: 'up' } }), { authorization: `Bearer ${token}` });
    assert.equal(res.status, 202);
    assert.deepEqual(await scoresOf(jobId), [10]);
  });

  it('stores a structured-mode rating signed with either of two webhook secrets (rotation)', async () => {
    for (const secret of [secretOld, secretNew]) {
      const messageId = `msg-${randomUUID()}`;
      const jobId = await seedJob(store, { chatId: `chat-${randomUUID()}`, messageId });
      const m = HTTP.structured(ratingEvent({ messageId, rating: { score: 8 } }));
      const res = await post({ ...(m.headers as Record<string, string>), ...sign(secret, randomUUID(), m.body as string) }, m.body as string);
      assert.equal(res.status, 202, await res.clone().text());
      assert.deepEqual(await scoresOf(jobId), [8]);
    }
  });

  it('refuses unsigned, wrongly signed, wrong-token and stale requests with 401, storing nothing', async () => {
    const jobId = await seedJob(store);
    const m = HTTP.structured(ratingEvent({ jobId, rating: { score: 9 } }));
    const headers = m.headers as Record<string, string>;
    const body = m.body as string;
    const wrongSecret = `whsec_${randomBytes(24).toString('base64')}`;
    await expectError(await post(headers, body), 401, /unauthenticated/);
    await expectError(await post({ ...headers, authorization: 'Bearer nope' }, body), 401, /bearer token/);
    await expectError(await post({ ...headers, ...sign(wrongSecret, 'w1', body) }, body), 401, /does not match/);
    // Signed over a different body: the signature covers the payload.
    await expectError(await post({ ...headers, ...sign(secretNew, 'w2', body.replace('9', '1')) }, body), 401, /does not match/);
    await expectError(await post({ ...headers, ...sign(secretNew, 'w3', body, Math.floor(Date.now() / 1000) - 600) }, body), 401, /stale/);
    assert.deepEqual(await scoresOf(jobId), []);
  });

  it('refuses bad events with 400 and the reason, storing nothing', async () => {
    const jobId = await seedJob(store);
    const auth = { authorization: `Bearer ${token}` };
    await expectError(await binary(ratingEvent({ jobId, rating: { score: 11 } }), auth), 400, /data\.rating/);
    await expectError(await binary(ratingEvent({ jobId: randomUUID(), rating: { score: 5 } }), auth), 400, /no job with id/, 'data.jobId');
    const wrongType = new CloudEvent({ specversion: '1.0', id: randomUUID(), type: 'dev.aiproc.job.failed', source: 'x', datacontenttype: 'application/json', data: { jobId, error: 'x' }, owner: 'o' });
    await expectError(await binary(wrongType, auth), 400, /not dev\.aiproc\.job\.failed/, 'type');
    const unknownType = new CloudEvent({ specversion: '1.0', id: randomUUID(), type: 'com.example.other', source: 'x', data: {} });
    await expectError(await binary(unknownType, auth), 400, /unknown event type/, 'type');
    await expectError(await post({ ...auth, 'content-type': 'application/json' }, JSON.stringify({ jobId, rating: { score: 5 } })), 400, /not a CloudEvent/);
    await expectError(await post({ ...auth, 'content-type': 'application/cloudevents+json' }, '{not json'), 400, /not a CloudEvent/);
    await expectError(
      await post({ ...auth, 'content-type': 'application/cloudevents+json' }, JSON.stringify({ specversion: '1.0', type: 'dev.aiproc.feedback.rated', source: 'x', data: { jobId, rating: { score: 5 } } })),
      400,
      /no id/,
    );
    assert.deepEqual(await scoresOf(jobId), []);
  });

  it('accepts a repeated event id once', async () => {
    const jobId = await seedJob(store);
    const ev = ratingEvent({ jobId, rating: { score: 7 } });
    for (let i = 0; i < 2; i++) assert.equal((await binary(ev, { authorization: `Bearer ${token}` })).status, 202);
    assert.deepEqual(await scoresOf(jobId), [7]);
  });

  it('refuses a body over AIPROC_BODY_LIMIT with 413 before reading it all', async () => {
    const small = createFeedbackHttp(makeCtx(store, { AIPROC_BODY_LIMIT: '2048' }));
    const jobId = await seedJob(store);
    const m = HTTP.binary(ratingEvent({ jobId, rating: { score: 5 }, comment: 'x'.repeat(4000) }));
    const res = await small.request('/', { method: 'POST', headers: m.headers as Record<string, string>, body: m.body as string });
    await expectError(res, 413, /larger than 2048 bytes/);
    assert.deepEqual(await scoresOf(jobId), []);
  });

  it('answers 503 when the store says try again later', async () => {
    const ctx = makeCtx(store);
    const busy = createFeedbackHttp(ctx, async () => {
      throw new RetryLaterError('the store is unreachable');
    });
    const m = HTTP.binary(ratingEvent({ jobId: randomUUID(), rating: { score: 5 } }));
    const res = await busy.request('/', { method: 'POST', headers: m.headers as Record<string, string>, body: m.body as string });
    await expectError(res, 503, /unreachable/);
  });

  it('is open, with a warning, when neither tokens nor secrets are configured', async () => {
    const auth = createFeedbackAuth({ tokens: [], secrets: [] });
    assert.equal(auth.open, true);
    assert.match(auth.warning ?? '', /AIPROC_FEEDBACK_TOKENS/);
    const jobId = await seedJob(store);
    const open = createFeedbackHttp(makeCtx(store));
    const m = HTTP.binary(ratingEvent({ jobId, rating: { thumbs: 'down' } }));
    assert.equal((await open.request('/', { method: 'POST', headers: m.headers as Record<string, string>, body: m.body as string })).status, 202);
    assert.deepEqual(await scoresOf(jobId), [1]);
  });

  it('fails at start on a malformed webhook secret', () => {
    assert.throws(() => createFeedbackAuth({ tokens: [], secrets: ['whsec_'] }), (err: unknown) => err instanceof ConfigError && /secret #1/.test(err.message));
  });
});
