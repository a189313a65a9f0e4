import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { result, ScriptModel, startEmbedded, type Embedded } from '../robustness/harness.ts';

// Every route × every kind of caller → the status it gets, and for reads exactly the rows it sees.
// Keys: two users, a gateway (OpenWebUI) that may name its end user, an admin, a feedback token.

const KEYS = { alice: 'key-alice', bob: 'key-bob', gateway: 'key-gateway', admin: 'key-admin', feedback: 'token-feedback' };
const ENV = {
  AIPROC_API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`,
  AIPROC_GATEWAY_KEYS: `openwebui:${KEYS.gateway}`,
  AIPROC_ADMIN_KEYS: `ops:${KEYS.admin}`,
  AIPROC_FEEDBACK_TOKENS: KEYS.feedback,
};

type Caller = 'none' | 'alice' | 'bob' | 'gateway' | 'gatewayU1' | 'admin' | 'feedback';
const CALLERS: Caller[] = ['none', 'alice', 'bob', 'gateway', 'gatewayU1', 'admin', 'feedback'];

function headersOf(caller: Caller): Record<string, string> {
  switch (caller) {
    case 'none':
      return {};
    case 'gatewayU1':
      return { authorization: `Bearer ${KEYS.gateway}`, 'x-openwebui-user-id': 'u1' };
    default:
      return { authorization: `Bearer ${KEYS[caller]}` };
  }
}

describe('authorization matrix', () => {
  let app: Embedded;
  /** Job ids by who made them. */
  const jobs: Record<string, string> = {};
  let ruleId = '';

  const call = (caller: Caller, method: string, path: string, body?: unknown, extra: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, {
      method,
      headers: { ...headersOf(caller), ...(body !== undefined && { 'content-type': 'application/json' }), ...extra },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const chat = (caller: Caller, extra: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
    call(caller, 'POST', '/v1/chat/completions', { model: 'codellama-7b', messages: [{ role: 'user', content: `from ${caller}` }], ...body }, extra);

  before(async () => {
    app = await startEmbedded(new ScriptModel(async () => result('an answer')), ENV);
    const made: Array<[string, Caller, Record<string, string>]> = [
      ['alice', 'alice', {}],
      ['bob', 'bob', {}],
      ['u1', 'gatewayU1', { 'x-openwebui-chat-id': 'chat-u1', 'x-openwebui-message-id': 'msg-u1' }],
      ['u2', 'gateway', { 'x-openwebui-user-id': 'u2' }],
      ['gateway', 'gateway', {}],
      ['admin', 'admin', {}],
    ];
    for (const [name, caller, extra] of made) {
      const res = await chat(caller, extra);
      assert.equal(res.status, 200, await res.clone().text());
      jobs[name] = res.headers.get('x-request-id')!;
      await res.json();
    }
    const rule = await call('admin', 'POST', '/v1/rules', { scope: 'merger', text: 'Be brief.' });
    assert.equal(rule.status, 201);
    ruleId = ((await rule.json()) as { id: string }).id;
  });
  after(() => app?.close());

  // What each caller may list: exactly these jobs.
  const visible: Record<Caller, string[] | number> = {
    none: 401,
    alice: ['alice'],
    bob: ['bob'],
    gateway: ['u1', 'u2', 'gateway'],
    gatewayU1: ['u1'],
    admin: ['alice', 'bob', 'u1', 'u2', 'gateway', 'admin'],
    feedback: 401,
  };

  for (const caller of CALLERS) {
    test(`GET /v1/jobs as ${caller} → ${typeof visible[caller] === 'number' ? visible[caller] : `exactly ${(visible[caller] as string[]).join(', ')}`}`, async () => {
      const res = await call(caller, 'GET', '/v1/jobs?limit=200');
      const want = visible[caller];
      if (typeof want === 'number') return assert.equal(res.status, want);
      assert.equal(res.status, 200);
      const ids = ((await res.json()) as { data: Array<{ id: string }> }).data.map((j) => j.id).sort();
      assert.deepEqual(ids, want.map((n) => jobs[n]!).sort());
    });

    test(`GET /v1/jobs/:id and its events as ${caller}: each job 200 when listed, else ${caller === 'none' || caller === 'feedback' ? 401 : 404}`, async () => {
      for (const [name, id] of Object.entries(jobs)) {
        const want = visible[caller];
        const status = typeof want === 'number' ? want : want.includes(name) ? 200 : 404;
        const one = await call(caller, 'GET', `/v1/jobs/${id}`);
        assert.equal(one.status, status, `${caller} reading ${name}'s job`);
        const body = (await one.json()) as { id?: string; answer?: string; error?: { message: string } };
        if (status === 200) assert.equal(body.id, id);
        else assert.equal(body.answer, undefined, 'nothing of the job leaks');
        const events = await call(caller, 'GET', `/v1/jobs/${id}/events`);
        assert.equal(events.status, status, `${caller} following ${name}'s job`);
        await events.text();
      }
    });
  }

  const statusFor = (allowed: Caller[], ok: number, refused = 403) => (c: Caller) =>
    allowed.includes(c) ? ok : c === 'none' || c === 'feedback' ? 401 : refused;
  const apiCallers: Caller[] = ['alice', 'bob', 'gateway', 'gatewayU1', 'admin'];
  const routes: Array<[string, string, () => unknown, (c: Caller) => number]> = [
    ['GET', '/healthz', () => undefined, () => 200],
    ['GET', '/v1/models', () => undefined, statusFor(apiCallers, 200)],
    ['GET', '/v1/rules', () => undefined, statusFor(['admin'], 200)],
    ['GET', '/v1/rules/stats', () => undefined, statusFor(['admin'], 200)],
    ['POST', '/v1/rules', () => ({ scope: 'planner', text: 'Never split a greeting.' }), statusFor(['admin'], 201)],
    ['GET', '/v1/rules/:rule', () => undefined, statusFor(['admin'], 200)],
    ['POST', '/v1/rules/:rule/activate', () => ({}), statusFor(['admin'], 200)],
    ['POST', '/v1/rules/:rule/retire', () => ({}), statusFor(['admin'], 200)],
    ['POST', '/v1/rules/:ruleId/versions', () => ({ text: 'Be briefer.' }), statusFor(['admin'], 201)],
  ];
  for (const [method, path, body, expected] of routes) {
    test(`${method} ${path}: ${CALLERS.map((c) => `${c} ${expected(c)}`).join(', ')}`, async () => {
      const rules = (await (await call('admin', 'GET', '/v1/rules')).json()) as { data: Array<{ id: string; ruleId: string }> };
      const rule = rules.data.find((r) => r.id === ruleId)!;
      const real = path.replace(':rule/', `${rule.id}/`).replace(/:rule$/, rule.id).replace(':ruleId', rule.ruleId);
      for (const caller of CALLERS) {
        const res = await call(caller, method, real, body());
        assert.equal(res.status, expected(caller), `${caller}: ${await res.clone().text()}`);
        await res.arrayBuffer();
      }
    });
  }

  test('POST /v1/chat/completions: no key 401, a feedback token 401, every API key 200, and the job records its principal', async () => {
    const want: Record<Caller, [number, string?, string?]> = {
      none: [401],
      feedback: [401],
      alice: [200, 'user:alice'],
      bob: [200, 'user:bob'],
      gateway: [200, 'gateway:openwebui'],
      gatewayU1: [200, 'gateway:openwebui', 'u1'],
      admin: [200, 'admin:ops'],
    };
    for (const caller of CALLERS) {
      const res = await chat(caller);
      const [status, principal, user] = want[caller];
      assert.equal(res.status, status, caller);
      await res.arrayBuffer();
      if (status !== 200) continue;
      const job = await app.store.getJob(res.headers.get('x-request-id')!);
      assert.equal(job?.principal, principal);
      assert.equal(job?.principalRole, caller.startsWith('gateway') ? 'gateway' : caller === 'admin' ? 'admin' : 'user');
      assert.equal(job?.meta.user, user);
    }
  });

  test('POST /v1/feedback: only a feedback credential rates (API keys are not one); the rating lands on its job', async () => {
    const rate = (caller: Caller, id: string) =>
      call(caller, 'POST', '/v1/feedback', { messageId: 'msg-u1', rating: { thumbs: 'up' } }, { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.aiproc.feedback.rated' });
    for (const caller of CALLERS) {
      const res = await rate(caller, `rating-${caller}`);
      assert.equal(res.status, caller === 'feedback' ? 202 : 401, `${caller}: ${await res.clone().text()}`);
    }
    const rated = await app.store.ratedJobs(1);
    assert.deepEqual(rated.map((r) => r.job.id), [jobs.u1]);
  });
});

describe('asserted identity and rules origin', () => {
  let app: Embedded;
  before(async () => {
    app = await startEmbedded(new ScriptModel(async () => result('an answer')), ENV);
  });
  after(() => app?.close());

  const chatAs = async (caller: Caller) => {
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headersOf(caller), 'content-type': 'application/json', 'x-openwebui-user-id': 'victim', 'x-openwebui-chat-id': 'their-chat', 'x-openwebui-message-id': 'their-msg' },
      body: JSON.stringify({ model: 'codellama-7b', user: 'victim', messages: [{ role: 'user', content: 'who am I?' }] }),
    });
    assert.equal(res.status, 200);
    await res.json();
    return (await app.store.getJob(res.headers.get('x-request-id')!))!;
  };

  test('a user key that names an OpenWebUI user, chat and message (header or body `user`) has none of them stored', async () => {
    const job = await chatAs('alice');
    assert.deepEqual(job.meta, {});
    assert.equal(job.principal, 'user:alice');
    const adminJob = await chatAs('admin');
    assert.deepEqual(adminJob.meta, {}, 'an admin key is not a gateway either');
  });

  test('a gateway key\'s end user, chat and message are stored', async () => {
    const job = await chatAs('gateway');
    assert.deepEqual(job.meta, { user: 'victim', chatId: 'their-chat', messageId: 'their-msg' });
  });

  test('the rules API sets origin from the credential: a body claiming another is refused, naming origin', async () => {
    const post = (body: unknown) =>
      fetch(`${app.url}/v1/rules`, { method: 'POST', headers: { ...headersOf('admin'), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const claimed = await post({ scope: 'planner', text: 'x', origin: 'api' });
    assert.equal(claimed.status, 400);
    assert.equal(((await claimed.json()) as { error: { param: string } }).error.param, 'origin');
    const made = await post({ scope: 'planner', text: 'x' });
    assert.equal(((await made.json()) as { origin: string }).origin, 'person');
  });

  test('a feedback token may propose a rule, stored inactive with origin n8n; asking for active is refused and stores nothing', async () => {
    const propose = (id: string, data: Record<string, unknown>) =>
      fetch(`${app.url}/v1/feedback`, {
        method: 'POST',
        headers: { ...headersOf('feedback'), 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.aiproc.rule.proposed' },
        body: JSON.stringify(data),
      });
    const active = await propose('p-1', { scope: 'merger', text: 'ACTIVE-BY-FORCE', origin: 'person', active: true });
    assert.equal(active.status, 400);
    assert.equal(((await active.json()) as { error: { param: string } }).error.param, 'data.active');
    const ok = await propose('p-2', { scope: 'merger', text: 'PROPOSED', origin: 'person' });
    assert.equal(ok.status, 202);
    const rules = await app.store.listRules();
    assert.equal(rules.filter((r) => r.text === 'ACTIVE-BY-FORCE').length, 0);
    assert.deepEqual(rules.filter((r) => r.text === 'PROPOSED').map((r) => [r.active, r.origin]), [[false, 'n8n']]);
  });

  test('/v1/jobs?limit= takes a whole number 1..200; anything else is a 400 naming limit', async () => {
    for (const bad of ['1.5', '-1', '0', 'abc', '201', '', '1e2']) {
      const res = await fetch(`${app.url}/v1/jobs?limit=${encodeURIComponent(bad)}`, { headers: headersOf('admin') });
      assert.equal(res.status, 400, `limit=${bad}`);
      const body = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(body.error.param, 'limit');
      assert.doesNotMatch(body.error.message, /select|syntax|sql/i);
    }
    const one = await fetch(`${app.url}/v1/jobs?limit=1`, { headers: headersOf('admin') });
    assert.equal(((await one.json()) as { data: unknown[] }).data.length, 1);
  });
});
