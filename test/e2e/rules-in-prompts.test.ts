import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { roleOf, startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';

describe('rules shape the next answers', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;
  let client: OpenAI;
  const api = (path: string, body?: unknown) =>
    fetch(`${app.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const systemsBy = (from: number) => {
    const out: { planner: string[]; part: string[]; merger: string[] } = { planner: [], part: [], merger: [] };
    for (const c of ollama.received.slice(from)) out[roleOf(c)].push(c.messages.find((m) => m.role === 'system')?.content ?? '');
    return out;
  };

  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
    client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'x' });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  test('a proposed rule stays out of prompts until activated; then it is in the planner, inference and merger prompts; retired, it is gone', async () => {
    const texts = { planner: 'PLANNER-RULE: prefer fewer parts.', inference: 'INFERENCE-RULE: cite sources.', merger: 'MERGER-RULE: end with a summary.' };
    const ids: string[] = [];
    for (const [scope, text] of Object.entries(texts)) {
      const res = await api('/v1/rules', { scope, model: '*', text, reason: 'test' });
      assert.equal(res.status, 201, await res.clone().text());
      const rule = (await res.json()) as { id: string; active: boolean };
      assert.equal(rule.active, false, 'rules arrive inactive');
      ids.push(rule.id);
    }

    let from = ollama.received.length;
    await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics, no rules yet' }] });
    let sys = systemsBy(from);
    assert.ok(![...sys.planner, ...sys.part, ...sys.merger].some((s) => /-RULE:/.test(s)), 'inactive rules are not applied');

    for (const id of ids) assert.equal((await api(`/v1/rules/${id}/activate`, {})).status, 200);
    from = ollama.received.length;
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics with rules' }] });
    sys = systemsBy(from);
    assert.equal(sys.planner.length, 1);
    assert.match(sys.planner[0]!, /PLANNER-RULE/);
    assert.equal(sys.part.length, 3);
    assert.ok(sys.part.every((s) => /INFERENCE-RULE/.test(s) && !/PLANNER-RULE|MERGER-RULE/.test(s)));
    // the stitched answer's two joins (opening, closing) are the merger's
    assert.equal(sys.merger.length, 2);
    assert.ok(sys.merger.every((s) => /MERGER-RULE/.test(s)));
    const job = (await (await api(`/v1/jobs/${res.id}`)).json()) as { ruleIds: string[] };
    assert.deepEqual([...job.ruleIds].sort(), [...ids].sort(), 'the job records the rule versions that shaped it');

    for (const id of ids) assert.equal((await api(`/v1/rules/${id}/retire`, {})).status, 200);
    from = ollama.received.length;
    await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics after retiring' }] });
    sys = systemsBy(from);
    assert.ok(![...sys.planner, ...sys.part, ...sys.merger].some((s) => /-RULE:/.test(s)), 'retired rules are gone');
  });

  test('a rating sent to /v1/feedback is linked to its job by OpenWebUI\'s chat and message ids', async () => {
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-OpenWebUI-User-Id': 'u-1', 'X-OpenWebUI-Chat-Id': 'chat-9', 'X-OpenWebUI-Message-Id': 'msg-9' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'one thing to rate' }] }),
    });
    const jobId = res.headers.get('x-request-id')!;
    await res.json();
    const job = (await (await api(`/v1/jobs/${jobId}`)).json()) as { meta: Record<string, string> };
    assert.deepEqual(job.meta, { user: 'u-1', chatId: 'chat-9', messageId: 'msg-9' });

    const rated = await fetch(`${app.url}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'rating-1', 'ce-source': '/openwebui', 'ce-type': 'dev.aiproc.feedback.rated' },
      body: JSON.stringify({ chatId: 'chat-9', messageId: 'msg-9', rating: { thumbs: 'up' }, comment: 'good' }),
    });
    assert.equal(rated.status, 202, await rated.clone().text());
  });
});
