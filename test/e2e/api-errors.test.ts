import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('bad input gets an OpenAI error that names the field', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;
  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
    app = await startAiproc({ OLLAMA_HOST: ollama.url, AIPROC_BODY_LIMIT: '4096' });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  const cases: Array<[string, string, number, RegExp, string | null]> = [
    ['malformed JSON', '{"model": "aiproc", "messages": [', 400, /not valid JSON/, null],
    ['missing messages', '{"model":"aiproc"}', 400, /^messages: /, 'messages'],
    ['empty messages', '{"model":"aiproc","messages":[]}', 400, /messages must not be empty/, 'messages'],
    ['unknown model', '{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}', 400, /unknown model "gpt-4"/, 'model'],
    ['wrong type', '{"model":"aiproc","messages":[{"role":"user","content":42}]}', 400, /messages\[0\]\.content/, 'messages[0].content'],
    ['wrong role', '{"model":"aiproc","messages":[{"role":"robot","content":"hi"}]}', 400, /messages\[0\]\.role/, 'messages[0].role'],
    ['stream not a boolean', '{"model":"aiproc","stream":"yes","messages":[{"role":"user","content":"hi"}]}', 400, /^stream: /, 'stream'],
  ];
  for (const [name, body, status, message, param] of cases) {
    test(`${name} → ${status}`, async () => {
      const res = await post(app.url, body);
      assert.equal(res.status, status);
      const json = (await res.json()) as { error: { message: string; type: string; param: string | null } };
      assert.equal(json.error.type, 'invalid_request_error');
      assert.match(json.error.message, message);
      assert.equal(json.error.param, param);
    });
  }

  test('a body over the limit → 413', async () => {
    const res = await post(app.url, JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }));
    assert.equal(res.status, 413);
    const json = (await res.json()) as { error: { message: string } };
    assert.match(json.error.message, /AIPROC_BODY_LIMIT/);
  });

  test('an unknown job → 404 with an OpenAI error', async () => {
    const res = await fetch(`${app.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /no job/);
  });

  test('the process keeps serving after all that', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'x' });
    const res = await client.chat.completions.create({ model: 'codellama-7b', messages: [{ role: 'user', content: 'still there?' }] });
    assert.equal(res.choices[0]!.message.content, 'answer(still there?)');
  });
});

describe('auth, a model backend that is down, and restarts', () => {
  let ollama: ScriptedOllama;
  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
  });
  after(async () => ollama?.close());

  test('with AIPROC_API_KEYS set, requests need a key', async () => {
    const app = await startAiproc({ OLLAMA_HOST: ollama.url, AIPROC_API_KEYS: 'k1,k2' });
    try {
      assert.match(app.stdout(), /auth: +on \(2 user keys/);
      const body = JSON.stringify({ model: 'codellama-7b', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal((await post(app.url, body)).status, 401);
      assert.equal((await post(app.url, body, { authorization: 'Bearer nope' })).status, 401);
      assert.equal((await post(app.url, body, { authorization: 'Bearer k2' })).status, 200);
      assert.equal((await fetch(`${app.url}/v1/models`)).status, 401);
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'health stays open');
    } finally {
      await app.stop();
    }
  });

  test('Ollama erroring fails the job with a clear message and the process keeps serving', async () => {
    const app = await startAiproc({ OLLAMA_HOST: ollama.url });
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      ollama.setResponder(() => ({ error: 'model exploded', status: 500 }));
      await assert.rejects(client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'hello' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.match(err.message, /every part failed: .*model exploded/);
        return true;
      });
      ollama.setResponder(pipelineScript);
      const ok = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'hello again' }] });
      assert.equal(ok.choices[0]!.message.content, 'answer(hello again)');
    } finally {
      ollama.setResponder(pipelineScript);
      await app.stop();
    }
  });

  test('Ollama going away: the job fails saying it is not reachable (OLLAMA_HOST), the process keeps serving', async () => {
    const own = await startScriptedOllama(pipelineScript);
    const app = await startAiproc({ OLLAMA_HOST: own.url });
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      await own.close();
      await assert.rejects(client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'hello' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.match(err.message, /not reachable/);
        assert.match(err.message, /OLLAMA_HOST/);
        return true;
      });
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
    } finally {
      await app.stop();
    }
  });

  test('a restart keeps the job history', async () => {
    const app = await startAiproc({ OLLAMA_HOST: ollama.url });
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'x' });
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics to remember' }] });
    await app.stop();
    const again = await startAiproc({ OLLAMA_HOST: ollama.url }, { dataDir: app.dataDir });
    try {
      const job = (await (await fetch(`${again.url}/v1/jobs/${res.id}`)).json()) as { status: string; answer: string; parts: unknown[] };
      assert.equal(job.status, 'completed');
      assert.match(job.answer, /^OPENING\n\n### Alpha\n\nanswer\(Explain alpha\.\)[\s\S]*CLOSING$/);
      assert.equal(job.parts.length, 3);
    } finally {
      await again.stop();
    }
  });
});
