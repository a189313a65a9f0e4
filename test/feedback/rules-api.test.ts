import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { createRulesApi } from '../../functions/feedback/rules-api.ts';
import type { RuleStats, RuleView, Store } from '../../functions/lib/store/types.ts';
import { asPrincipal, makeCtx, openStore, seedJob } from './support.ts';

describe('rules API', () => {
  let store: Store;
  let ctx: ReturnType<typeof makeCtx>;
  let app: Hono;
  before(async () => {
    store = await openStore();
    ctx = makeCtx(store);
    app = asPrincipal(createRulesApi(ctx), { id: 'admin:ops', name: 'ops', role: 'admin' });
  });
  after(() => store.close());

  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await app.request(path, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as T };
  };
  type ErrorJson = { error: { message: string; type: string; param: string | null; code: string } };

  it('creates, lists, activates, versions and retires a rule, each change visible to the next prompt', async () => {
    const created = await call<RuleView>('POST', '/', { scope: 'planner', text: 'Never split a greeting.', reason: 'greetings got split', origin: 'person' });
    assert.equal(created.status, 201);
    assert.equal(created.json.active, false);
    assert.equal(created.json.model, '*');
    assert.equal(created.json.origin, 'person');
    assert.equal(created.json.version, 1);
    assert.deepEqual(await ctx.rules.get('planner', 'small'), []);

    const inactive = await call<{ data: RuleView[] }>('GET', '/?scope=planner&active=false');
    assert.ok(inactive.json.data.some((r) => r.id === created.json.id));

    const activated = await call<RuleView>('POST', `/${created.json.id}/activate`);
    assert.equal(activated.status, 200);
    assert.equal(activated.json.active, true);
    assert.deepEqual((await ctx.rules.get('planner', 'small')).map((r) => r.text), ['Never split a greeting.']);

    const v2 = await call<RuleView>('POST', `/${created.json.ruleId}/versions`, { text: 'Never split a greeting or a thank-you.', active: true });
    assert.equal(v2.status, 201);
    assert.equal(v2.json.version, 2);
    assert.equal(v2.json.ruleId, created.json.ruleId);
    assert.equal(v2.json.scope, 'planner');
    // The active new version replaces the old one in the prompt.
    assert.deepEqual((await ctx.rules.get('planner', 'small')).map((r) => r.text), ['Never split a greeting or a thank-you.']);

    const history = await call<{ data: RuleView[] }>('GET', `/${created.json.ruleId}`);
    assert.deepEqual(history.json.data.map((r) => [r.version, r.active]), [[1, false], [2, true]]);

    const retired = await call<RuleView>('POST', `/${v2.json.id}/retire`);
    assert.equal(retired.json.active, false);
    assert.deepEqual(await ctx.rules.get('planner', 'small'), []);
    const active = await call<{ data: RuleView[] }>('GET', '/?scope=planner&active=true');
    assert.ok(!active.json.data.some((r) => r.ruleId === created.json.ruleId));
  });

  it('reports per rule version the jobs it shaped and their ratings', async () => {
    const rule = (await call<RuleView>('POST', '/', { scope: 'merger', model: 'small', text: 'Use headings.', active: true })).json;
    const unused = (await call<RuleView>('POST', '/', { scope: 'merger', model: 'small', text: 'Use tables.', active: true })).json;
    const a = await seedJob(store);
    const b = await seedJob(store);
    await store.recordRulesApplied(a, [rule.id]);
    await store.recordRulesApplied(b, [rule.id]);
    await store.addRating({ eventSource: 't', eventId: `${a}-1`, jobId: a, score: 10 });
    await store.addRating({ eventSource: 't', eventId: `${b}-1`, jobId: b, score: 6 });

    const stats = await call<{ data: RuleStats[] }>('GET', '/stats?scope=merger');
    assert.equal(stats.status, 200);
    const mine = stats.json.data.find((s) => s.rule.id === rule.id);
    assert.deepEqual(mine && { jobs: mine.jobs, ratings: mine.ratings, averageScore: mine.averageScore }, { jobs: 2, ratings: 2, averageScore: 8 });
    const none = stats.json.data.find((s) => s.rule.id === unused.id);
    assert.deepEqual(none && { jobs: none.jobs, ratings: none.ratings, averageScore: none.averageScore }, { jobs: 0, ratings: 0, averageScore: null });
    assert.ok(stats.json.data.every((s) => s.rule.scope === 'merger'));
    assert.equal((mine as RuleStats & { previous: unknown }).previous, null);

    // A second version, rated lower: its stats name the first version's average beside its own.
    const v2 = (await call<RuleView>('POST', `/${rule.ruleId}/versions`, { text: 'Use headings and bold.', active: true })).json;
    const c = await seedJob(store);
    await store.recordRulesApplied(c, [v2.id]);
    await store.addRating({ eventSource: 't', eventId: `${c}-1`, jobId: c, score: 4 });
    const after = await call<{ data: Array<RuleStats & { previous: { id: string; version: number; averageScore: number | null } | null }> }>('GET', '/stats?scope=merger&active=true');
    const second = after.json.data.find((s) => s.rule.id === v2.id);
    assert.deepEqual(second && { averageScore: second.averageScore, previous: second.previous }, { averageScore: 4, previous: { id: rule.id, version: 1, ratings: 2, averageScore: 8 } });
  });

  it('refuses bad bodies and unknown rules with OpenAI-style errors', async () => {
    const noText = await call<ErrorJson>('POST', '/', { scope: 'planner' });
    assert.equal(noText.status, 400);
    assert.equal(noText.json.error.param, 'text');
    assert.equal(noText.json.error.type, 'invalid_request_error');

    const badScope = await call<ErrorJson>('POST', '/', { scope: 'everything', text: 'x' });
    assert.equal(badScope.status, 400);
    assert.equal(badScope.json.error.param, 'scope');

    const n8nOrigin = await call<ErrorJson>('POST', '/', { scope: 'planner', text: 'x', origin: 'n8n' });
    assert.equal(n8nOrigin.status, 400, 'n8n proposes through the feedback function, not this API');

    const badModel = await call<ErrorJson>('POST', '/', { scope: 'planner', text: 'x', model: 'Not A Slug' });
    assert.equal(badModel.status, 400);

    const res = await app.request('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ErrorJson).error.message, /not JSON/);

    const badFilter = await call<ErrorJson>('GET', '/?active=maybe');
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.json.error.param, 'active');

    const missing = '00000000-0000-4000-8000-000000000000';
    assert.equal((await call<ErrorJson>('POST', `/${missing}/activate`)).status, 404);
    assert.equal((await call<ErrorJson>('POST', `/${missing}/versions`, { text: 'x' })).status, 404);
    assert.equal((await call<ErrorJson>('GET', `/${missing}`)).status, 404);
    const notAnId = await call<ErrorJson>('POST', '/not-a-rule/retire');
    assert.equal(notAnId.status, 404);
    assert.equal(notAnId.json.error.code, 'not_found');
  });
});
