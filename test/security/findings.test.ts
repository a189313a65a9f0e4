import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inferenceHandler } from '../../functions/inference/handler.ts';
import { BadInputError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent } from '../../functions/lib/events/index.ts';
import { publicMessage } from '../../functions/lib/errors.ts';
import { healthRoutes } from '../../functions/lib/http/health.ts';
import { errorBody } from '../../functions/lib/http/openai.ts';
import { UpstreamError } from '../../functions/lib/errors.ts';
import { OllamaClient } from '../../functions/lib/models/ollama.ts';
import { toStoreError } from '../../functions/lib/store/db-errors.ts';
import { result, ScriptModel, startEmbedded, type Embedded } from '../robustness/harness.ts';

// The probe's findings that are not about keys or signatures, each as a test.

describe('each function does only its job', () => {
  let app: Embedded;
  const model = new ScriptModel(async () => result('an answer'));
  before(async () => {
    app = await startEmbedded(model, { AIPROC_MAX_TOKENS: '256' });
  });
  after(() => app?.close());

  const chat = (body: Record<string, unknown>) =>
    fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'codellama-7b', messages: [{ role: 'user', content: 'hi' }], ...body }) });

  test('max_tokens above AIPROC_MAX_TOKENS reaches the model as AIPROC_MAX_TOKENS; a lower one as it is', async () => {
    for (const [asked, got] of [[10 ** 12, 256], [999_999_999, 256], [40, 40]] as const) {
      for (const field of ['max_tokens', 'max_completion_tokens']) {
        const before = model.calls.length;
        const res = await chat({ [field]: asked });
        assert.equal(res.status, 200, await res.clone().text());
        await res.json();
        assert.equal(model.calls.length, before + 1);
        assert.equal(model.calls.at(-1)!.req.maxTokens, got, `${field}: ${asked}`);
      }
    }
  });

  const task = (slug: string, maxTokens?: number) => {
    const jobId = crypto.randomUUID();
    return makeEvent(
      EventTypes.taskRequested,
      { jobId, part: { index: 0, title: 'A', prompt: 'p', model: slug }, total: 1, fastPath: false, context: [], ...(maxTokens !== undefined && { maxTokens }) },
      { source: '/test', jobid: jobId, model: slug, owner: 'o' },
    );
  };
  const info = { attempt: 1, signal: new AbortController().signal };

  test('an inference function answers only its own model: a task for another, or for an unconfigured one, is refused before any work', async () => {
    const before = model.calls.length;
    for (const [slug, why] of [['codellama-70b', /answers codellama-34b only/], ['no-such-model', /answers codellama-34b only/]] as const) {
      await assert.rejects(inferenceHandler(task(slug), app.rt.ctx, info, 'codellama-34b'), (e: unknown) => e instanceof BadInputError && e.param === 'data.part.model' && why.test(e.message));
    }
    assert.equal(model.calls.length, before, 'no model was asked');
  });

  test('an event\'s token budget is capped on the inference side too', async () => {
    const jobId = crypto.randomUUID();
    await app.store.createJob({ id: jobId, model: 'aiproc', messages: [{ role: 'user', content: 'q' }], owner: 'o', stream: false, meta: {} });
    await app.store.setPlan(jobId, [{ index: 0, title: 'A', prompt: 'p', model: 'codellama-34b' }], false);
    const ev = makeEvent(
      EventTypes.taskRequested,
      { jobId, part: { index: 0, title: 'A', prompt: 'p', model: 'codellama-34b' }, total: 1, fastPath: false, context: [], maxTokens: 999_999_999 },
      { source: '/test', jobid: jobId, model: 'codellama-34b', owner: 'o' },
    );
    await inferenceHandler(ev, { ...app.rt.ctx, emit: async () => {} }, info, 'codellama-34b');
    assert.equal(model.calls.at(-1)!.req.maxTokens, 256);
  });

  test('a lone UTF-16 surrogate is a 400 naming the field, in chat content and in a rule', async () => {
    const body = '{"model":"codellama-7b","messages":[{"role":"user","content":"hi \\ud800 there"}]}';
    const res = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 400);
    const err = ((await res.json()) as { error: { param: string; message: string } }).error;
    assert.equal(err.param, 'messages[0].content');
    assert.doesNotMatch(err.message, /UTF8|byte sequence|SQLSTATE/);
    const parts = '{"model":"codellama-7b","messages":[{"role":"user","content":[{"type":"text","text":"\\udc00"}]}]}';
    const res2 = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: parts });
    assert.equal(((await res2.json()) as { error: { param: string } }).error.param, 'messages[0].content[0].text');
    const rule = await fetch(`${app.url}/v1/rules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"scope":"planner","text":"\\ud83d"}' });
    assert.equal(rule.status, 400);
    assert.equal(((await rule.json()) as { error: { param: string } }).error.param, 'text');
  });
});

describe('no internal address or driver text in an error a client sees', () => {
  test('Ollama errors name OLLAMA_HOST, not its address', async () => {
    const client = new OllamaClient({ host: 'http://10.11.12.13:1' , fetch: async () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })) });
    await assert.rejects(client.chat({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => e instanceof UpstreamError && /OLLAMA_HOST/.test(e.message) && !/10\.11\.12\.13/.test(e.message));
  });

  test('a database refusing a value says so without quoting the driver', () => {
    const err = toStoreError(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80'), { code: '22021' }), 'DATABASE_URL');
    const bad = toStoreError(Object.assign(new Error('invalid input syntax for type integer: "1.5"'), { code: '22P02' }), 'DATABASE_URL') as Error;
    assert.match(bad.message, /refused a value as given \(SQLSTATE 22P02\)/);
    assert.doesNotMatch(bad.message, /syntax|1\.5/);
    assert.ok(err instanceof BadInputError && !/UTF8|0xed/.test(err.message), 'a lone surrogate that got past the edge');
  });

  test('/readyz, open to anyone, says why it is not ready without the addresses', async () => {
    const app = healthRoutes(async () => {
      throw new Error('no Ollama answers at http://ollama-codellama-7b.aiproc.svc.cluster.local:11434');
    });
    const res = await app.request('/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'not ready', reason: 'no Ollama answers at <internal address>' });
  });

  test('a server error body carries no URL', () => {
    assert.equal(publicMessage('the database at DATABASE_URL (postgres://aiproc@db.internal:5432/aiproc) is unreachable'), 'the database at DATABASE_URL (<internal address>) is unreachable');
    const body = errorBody(new UpstreamError('ollama at http://ollama-70b.aiproc.svc:11434 failed'));
    assert.doesNotMatch(body.error.message, /svc|http:/);
    assert.equal(errorBody(new BadInputError('model: use https://example.org/docs')).error.message, 'model: use https://example.org/docs', 'a 400 is ours to word');
  });
});
