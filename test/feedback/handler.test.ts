import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { feedbackHandler, normaliseRating } from '../../functions/feedback/handler.ts';
import { BadInputError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { makeCtx, openStore, seedJob } from './support.ts';

const info = { attempt: 1, signal: new AbortController().signal };

describe('feedback handler', () => {
  let store: Store;
  let ctx: ReturnType<typeof makeCtx>;
  before(async () => {
    store = await openStore();
    ctx = makeCtx(store);
  });
  after(() => store.close());

  const handle = (ev: AnyEvent) => feedbackHandler(ev, ctx, info);
  const rated = (data: Parameters<typeof makeEvent<typeof EventTypes.feedbackRated>>[1], id = randomUUID()) =>
    makeEvent(EventTypes.feedbackRated, data, { source: 'test/n8n', id });
  const ratingsOf = async (jobId: string) => (await store.ratedJobs(1)).filter((r) => r.job.id === jobId);

  it('normalises thumbs to 10 and 1 and keeps a 1..10 score', () => {
    assert.equal(normaliseRating({ thumbs: 'up' }), 10);
    assert.equal(normaliseRating({ thumbs: 'down' }), 1);
    assert.equal(normaliseRating({ score: 7 }), 7);
  });

  it('stores a thumbs-up rating by job id, linked to its job', async () => {
    const jobId = await seedJob(store);
    await handle(rated({ jobId, rating: { thumbs: 'up' }, comment: 'good' }));
    assert.deepEqual((await ratingsOf(jobId)).map((r) => r.score), [10]);
  });

  it('finds the job of a rating by the OpenWebUI message id', async () => {
    const messageId = `msg-${randomUUID()}`;
    const jobId = await seedJob(store, { chatId: `chat-${randomUUID()}`, messageId });
    await seedJob(store, { chatId: `chat-${randomUUID()}`, messageId: `msg-${randomUUID()}` });
    await handle(rated({ messageId, rating: { score: 9 } }));
    assert.deepEqual((await ratingsOf(jobId)).map((r) => r.score), [9]);
  });

  it('finds the job of a rating by the OpenWebUI chat id', async () => {
    const chatId = `chat-${randomUUID()}`;
    const jobId = await seedJob(store, { chatId, messageId: `msg-${randomUUID()}` });
    await handle(rated({ chatId, rating: { score: 8 } }));
    assert.deepEqual((await ratingsOf(jobId)).map((r) => r.score), [8]);
  });

  it('rejects a rating for a job that does not exist with 400 and the reason, storing nothing', async () => {
    const before = (await store.ratedJobs(1)).length;
    const missing = randomUUID();
    await assert.rejects(handle(rated({ jobId: missing, rating: { score: 9 } })), (err: unknown) => {
      assert.ok(err instanceof BadInputError);
      assert.equal(err.status, 400);
      assert.match(err.message, new RegExp(missing));
      assert.equal(err.param, 'data.jobId');
      return true;
    });
    await assert.rejects(handle(rated({ messageId: 'msg-nobody', rating: { score: 9 } })), (err: unknown) => {
      assert.ok(err instanceof BadInputError);
      assert.match(err.message, /msg-nobody/);
      return true;
    });
    assert.equal((await store.ratedJobs(1)).length, before);
  });

  it('accepts a repeated rating event once', async () => {
    const jobId = await seedJob(store);
    const ev = rated({ jobId, rating: { score: 6 } });
    await handle(ev);
    await handle(ev);
    assert.deepEqual((await ratingsOf(jobId)).map((r) => r.score), [6]);
  });

  it('refuses an event type that is not feedback', async () => {
    const ev = makeEvent(EventTypes.jobFailed, { jobId: randomUUID(), error: 'x' }, { source: 'test', owner: 'o' });
    await assert.rejects(handle(ev), (err: unknown) => err instanceof BadInputError && err.param === 'type' && /dev\.aiproc\.job\.failed/.test(err.message));
  });

  it('stores a proposed rule inactive, once per event, with the origin the server gives a feedback sender', async () => {
    const model = 'coder';
    assert.deepEqual(await ctx.rules.get('inference', model), []);
    const inactive = makeEvent(EventTypes.ruleProposed, { scope: 'inference', model, text: 'Cite the docs.', origin: 'person', active: false }, { source: 'test/n8n' });
    await handle(inactive);
    await handle(inactive);
    const proposed = (await store.listRules({ scope: 'inference' })).filter((r) => r.text === 'Cite the docs.');
    assert.equal(proposed.length, 1);
    assert.equal(proposed[0]!.active, false);
    assert.equal(proposed[0]!.origin, 'n8n', 'a feedback sender cannot claim to be a person');
    assert.deepEqual(await ctx.rules.get('inference', model), []);
  });

  it('refuses a proposal that asks to be active: only an administrator activates a rule', async () => {
    const model = 'coder';
    const active = makeEvent(EventTypes.ruleProposed, { scope: 'inference', model, text: 'Answer in English.', origin: 'n8n', active: true }, { source: 'test/n8n' });
    await assert.rejects(handle(active), (err: unknown) => err instanceof BadInputError && err.param === 'data.active');
    assert.equal((await store.listRules()).filter((r) => r.text === 'Answer in English.').length, 0, 'nothing stored');
    assert.deepEqual(await ctx.rules.get('inference', model), []);
  });

  it('stores a new version of an existing rule, and refuses one of a rule that does not exist', async () => {
    const first = await store.proposeRule({ scope: 'merger', model: '*', text: 'Be brief.', origin: 'person', active: true });
    await handle(makeEvent(EventTypes.ruleProposed, { scope: 'merger', model: '*', text: 'Be brief; use lists.', origin: 'n8n', active: false, replaces: first.ruleId }, { source: 'test/n8n' }));
    const versions = (await store.listRules({ scope: 'merger' })).filter((r) => r.ruleId === first.ruleId).map((r) => r.version).sort();
    assert.deepEqual(versions, [1, 2]);
    await assert.rejects(
      handle(makeEvent(EventTypes.ruleProposed, { scope: 'merger', model: '*', text: 'x', origin: 'n8n', active: false, replaces: randomUUID() }, { source: 'test/n8n' })),
      (err: unknown) => err instanceof BadInputError && err.param === 'data.replaces',
    );
  });

  it('stores a performance report once per event', async () => {
    const ev = makeEvent(EventTypes.performanceReported, { model: 'small', figures: { failures: 3, p95Ms: 1200 }, note: 'slow' }, { source: 'test/n8n' });
    await handle(ev);
    await handle(ev);
    assert.equal(await store.addPerformanceReport({ eventSource: ev.source, eventId: ev.id, model: 'small', figures: {} }), false);
  });
});
