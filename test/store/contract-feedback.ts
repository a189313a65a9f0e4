import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { NotFoundError } from '../../functions/lib/errors.ts';
import type { NewRule, Store } from '../../functions/lib/store/types.ts';
import { newJob, plan, plannedJob, result, usage } from './fixtures.ts';

const rule = (over: Partial<NewRule> = {}): NewRule => ({
  scope: 'merger', model: '*', text: 'Answer in English.', origin: 'person', active: true, ...over,
});

/** The feedback half of the Store contract: ratings, rules, rule stats, reports, the export. */
export function rulesContract(current: () => Store): void {
  it('links a rating to its job by job id, message id or chat id, once per event', async () => {
    const store = current();
    const job = newJob();
    await store.createJob(job);
    const source = `n8n/${randomUUID()}`;
    const rate = (id: string, over: object) => store.addRating({ eventSource: source, eventId: id, score: 8, ...over });
    assert.deepEqual(await rate('1', { messageId: job.meta.messageId }), { stored: true, jobId: job.id });
    assert.deepEqual(await rate('2', { chatId: job.meta.chatId, comment: 'good', user: 'ada' }), { stored: true, jobId: job.id });
    assert.deepEqual(await rate('3', { jobId: job.id, score: 1 }), { stored: true, jobId: job.id });
    // a rating that finds no job is not stored at all (the feedback function refuses it with 400)
    assert.deepEqual(await rate('4', { messageId: 'no-such-message' }), { stored: false, jobId: null });
    assert.deepEqual(await rate('1', { messageId: job.meta.messageId, score: 2 }), { stored: false, jobId: job.id });
    assert.deepEqual(await rate('4', { jobId: job.id }), { stored: true, jobId: job.id }, 'the refused id was never taken');
  });

  it('stores a proposed rule once per event, and a proposal that fails does not use up its event id', async () => {
    const store = current();
    const source = `n8n/${randomUUID()}`;
    const base = { scope: 'merger' as const, model: '*', text: `once-${randomUUID()}`, origin: 'n8n' as const, active: false };
    const first = await store.proposeRule({ ...base, event: { source, id: 'r1' } });
    assert.ok(first);
    assert.equal(await store.proposeRule({ ...base, event: { source, id: 'r1' } }), null, 'the same event again stores nothing');
    assert.equal((await store.listRules()).filter((r) => r.text === base.text).length, 1);
    await assert.rejects(store.proposeRule({ ...base, replaces: randomUUID(), event: { source, id: 'r2' } }));
    const retried = await store.proposeRule({ ...base, event: { source, id: 'r2' } });
    assert.ok(retried, 'the failed delivery did not mark r2 as seen');
  });

  it('versions rules: an active new version retires the older ones', async () => {
    const store = current();
    const model = `m-${randomUUID().slice(0, 8)}`;
    const v1 = await store.proposeRule(rule({ scope: 'inference', model, text: 'Be brief.', reason: 'too long', origin: 'n8n' }));
    assert.deepEqual([v1.version, v1.active, v1.scope, v1.model, v1.text, v1.reason, v1.origin], [1, true, 'inference', model, 'Be brief.', 'too long', 'n8n']);
    assert.notEqual(v1.id, v1.ruleId);
    assert.equal(new Date(v1.createdAt).toISOString(), v1.createdAt);
    const v2 = await store.proposeRule(rule({ scope: 'inference', model, text: 'Be very brief.', replaces: v1.ruleId }));
    assert.deepEqual([v2.ruleId, v2.version, v2.active, v2.reason], [v1.ruleId, 2, true, null]);
    const v3 = await store.proposeRule(rule({ scope: 'inference', model, text: 'Draft.', replaces: v1.ruleId, active: false }));
    assert.deepEqual([v3.version, v3.active], [3, false]);
    const versions = (await store.listRules({ scope: 'inference' })).filter((r) => r.ruleId === v1.ruleId);
    assert.deepEqual(versions.map((r) => [r.version, r.active]), [[1, false], [2, true], [3, false]]);

    const back = await store.setRuleActive(v1.id, true);
    assert.deepEqual([back.id, back.active], [v1.id, true]);
    const after = (await store.listRules()).filter((r) => r.ruleId === v1.ruleId);
    assert.deepEqual(after.map((r) => [r.version, r.active]), [[1, true], [2, false], [3, false]]);
    assert.equal((await store.setRuleActive(v1.id, false)).active, false);
    assert.ok(!(await store.listRules({ active: true })).some((r) => r.ruleId === v1.ruleId));
    assert.ok((await store.listRules({ active: false, scope: 'inference' })).some((r) => r.id === v3.id));

    await assert.rejects(store.proposeRule(rule({ replaces: randomUUID() })), NotFoundError);
    await assert.rejects(store.proposeRule(rule({ replaces: 'not-a-uuid' })), NotFoundError);
    await assert.rejects(store.setRuleActive(randomUUID(), true), NotFoundError);
  });

  it('gives each scope and model its own active rules and the "*" ones', async () => {
    const store = current();
    const model = `m-${randomUUID().slice(0, 8)}`;
    const own = await store.proposeRule(rule({ scope: 'planner', model }));
    const star = await store.proposeRule(rule({ scope: 'planner', model: '*' }));
    const otherModel = await store.proposeRule(rule({ scope: 'planner', model: `${model}-x` }));
    const otherScope = await store.proposeRule(rule({ scope: 'merger', model }));
    const off = await store.proposeRule(rule({ scope: 'planner', model, active: false }));
    const ids = (await store.activeRules('planner', model)).map((r) => r.id);
    assert.ok(ids.includes(own.id) && ids.includes(star.id));
    assert.ok(!ids.includes(otherModel.id) && !ids.includes(otherScope.id) && !ids.includes(off.id));
  });

  it('credits ratings to the rule versions that shaped a job', async () => {
    const store = current();
    const r = await store.proposeRule(rule({ text: `rule ${randomUUID()}` }));
    const unused = await store.proposeRule(rule({ text: 'never applied' }));
    const a = await plannedJob(store, 1);
    const b = await plannedJob(store, 1);
    await store.recordRulesApplied(a, [r.id, randomUUID()]);
    await store.recordRulesApplied(a, [r.id]);
    await store.recordRulesApplied(b, [r.id]);
    assert.deepEqual((await store.getJob(a))?.ruleIds, [r.id]);
    const source = `n8n/${randomUUID()}`;
    await store.addRating({ eventSource: source, eventId: '1', jobId: a, score: 10 });
    await store.addRating({ eventSource: source, eventId: '2', jobId: b, score: 5 });
    const stats = await store.ruleStats();
    const mine = stats.find((s) => s.rule.id === r.id);
    assert.deepEqual([mine?.jobs, mine?.ratings, mine?.averageScore], [2, 2, 7.5]);
    assert.equal(mine?.rule.text, r.text);
    const none = stats.find((s) => s.rule.id === unused.id);
    assert.deepEqual([none?.jobs, none?.ratings, none?.averageScore], [0, 0, null]);
    await assert.rejects(store.recordRulesApplied(randomUUID(), [r.id]), NotFoundError);
  });

  it('stores a performance report once per event', async () => {
    const store = current();
    const report = { eventSource: 'n8n/perf', eventId: randomUUID(), model: 'llama3-8b', figures: { p95Ms: 1234.5, tokensPerS: 40 }, note: 'nightly', windowStart: '2026-01-01T00:00:00.000Z', windowEnd: '2026-01-02T00:00:00.000Z' };
    assert.equal(await store.addPerformanceReport(report), true);
    assert.equal(await store.addPerformanceReport({ ...report, note: 'again' }), false);
    assert.equal(await store.addPerformanceReport({ eventSource: 'n8n/perf', eventId: randomUUID(), model: 'llama3-8b', figures: {} }), true);
  });

  it('exports completed jobs rated at least the minimum score, with their average', async () => {
    const store = current();
    const source = `n8n/${randomUUID()}`;
    const done = async (scores: number[]) => {
      const id = await plannedJob(store, 1);
      await store.recordPart(result(id, 0));
      await store.completeJob(id, `answer of ${id}`, usage(1, 1));
      for (const score of scores) await store.addRating({ eventSource: source, eventId: randomUUID(), jobId: id, score });
      return id;
    };
    const good = await done([9, 10]);
    const poor = await done([2]);
    const unrated = await done([]);
    const unfinished = await plannedJob(store, 1);
    await store.addRating({ eventSource: source, eventId: randomUUID(), jobId: unfinished, score: 10 });
    const rated = await store.ratedJobs(8);
    const ids = rated.map((r) => r.job.id);
    assert.ok(ids.includes(good));
    assert.ok(!ids.includes(poor) && !ids.includes(unrated) && !ids.includes(unfinished));
    const entry = rated.find((r) => r.job.id === good);
    assert.equal(entry?.score, 9.5);
    assert.equal(entry?.job.answer, `answer of ${good}`);
    assert.equal(entry?.job.parts.length, 1);
    assert.ok(rated.every((r) => r.score >= 8));
  });
  it('never links a rating to a background-task job: not by message id, not as the newest job of the chat, not in stats or the export', async () => {
    const store = current();
    const source = `n8n/${randomUUID()}`;
    const r = await store.proposeRule(rule({ text: `rule ${randomUUID()}` }));
    const answer = newJob();
    const { chatId, messageId } = answer.meta;
    await store.createJob(answer);
    await store.setPlan(answer.id, plan(1), true, usage(1, 1));
    await store.recordRulesApplied(answer.id, [r.id]);
    await store.recordPart(result(answer.id, 0));
    await store.completeJob(answer.id, 'the answer', usage(1, 1));
    // OpenWebUI's title task carries the answer's message id; the tags task (sent after the rating) is the chat's newest job.
    const title = newJob({ meta: { chatId, messageId, task: 'title_generation' } });
    const tags = newJob({ meta: { chatId, task: 'tags_generation' } });
    for (const t of [title, tags]) {
      await store.createJob(t);
      await store.recordRulesApplied(t.id, [r.id]);
      await store.completeJob(t.id, '{ "title": "T" }', usage(1, 1));
    }
    assert.deepEqual(await store.addRating({ eventSource: source, eventId: '1', messageId, score: 10 }), { stored: true, jobId: answer.id });
    assert.deepEqual(await store.addRating({ eventSource: source, eventId: '2', chatId, score: 10 }), { stored: true, jobId: answer.id });
    assert.deepEqual(await store.addRating({ eventSource: source, eventId: '3', jobId: tags.id, score: 10 }), { stored: false, jobId: null }, 'a task job is no rating target even by id');
    const lone = newJob({ meta: { chatId: `chat-${randomUUID()}`, task: 'title_generation' } });
    await store.createJob(lone);
    assert.deepEqual(await store.addRating({ eventSource: source, eventId: '4', chatId: lone.meta.chatId, score: 10 }), { stored: false, jobId: null }, 'a chat with only task jobs has nothing to rate');
    const mine = (await store.ruleStats()).find((s) => s.rule.id === r.id);
    assert.deepEqual([mine?.jobs, mine?.ratings, mine?.averageScore], [1, 2, 10]);
    const exported = (await store.ratedJobs(1)).map((x) => x.job.id);
    assert.ok(exported.includes(answer.id) && !exported.includes(title.id) && !exported.includes(tags.id));
    assert.equal((await store.getJob(title.id))?.meta.task, 'title_generation');
  });
}
