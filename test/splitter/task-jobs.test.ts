import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gate, plan, result, ScriptModel, sseData, startEmbedded, type Embedded } from '../robustness/harness.ts';
import { waitFor } from '../support/wait.ts';

const TITLE_PROMPT = '### Task:\nGenerate a concise title summarizing the chat history.\n### Chat History:\n<chat_history>\nUSER: Explain TCP.\n</chat_history>';
const TITLE = '{ "title": "TCP Explained" }';

interface JobView { id: string; status: string; model: string; principal: string; meta: Record<string, string>; answer: string | null; plan: unknown; parts: unknown[] }

describe('OpenWebUI background tasks through the API', () => {
  const held = gate();
  let app: Embedded;
  const post = (body: object, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const job = async (id: string) => (await (await fetch(`${app.url}/v1/jobs/${id}`)).json()) as JobView;

  before(async () => {
    const model = new ScriptModel(async (req, role) => {
      const user = req.messages.at(-1)!.content;
      if (user.startsWith('### Task:')) return result(TITLE, 40, 9);
      if (role === 'planner') return plan([['Design', 'Design a cache.', 'codellama-70b'], ['Code', 'Write it.', 'codellama-34b']]);
      if (role === 'part' && /Design/.test(user)) await held.wait;
      return result(`answer(${user})`);
    });
    app = await startEmbedded(model);
  });
  after(async () => {
    held.open();
    await app?.close();
  });

  test('/v1/models is OpenAI-shaped: our extras only under `aiproc`, never an `ollama` key', async () => {
    const { data } = (await (await fetch(`${app.url}/v1/models`)).json()) as { data: Array<Record<string, unknown>> };
    assert.deepEqual(data.map((m) => m.id), ['aiproc', 'codellama-7b', 'codellama-34b', 'codellama-70b']);
    for (const m of data) assert.deepEqual(Object.keys(m).sort(), ['aiproc', 'created', 'id', 'object', 'owned_by']);
    assert.equal((data[3]!.aiproc as { ollama: string }).ollama, 'codellama:70b-instruct');
  });

  test('a title task is one planner-model call, answered as it is while a user part holds the only worker slot', async () => {
    const answer = post({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'Design a cache and write it.' }] });
    await waitFor('the design part to hold codellama-70b', () => app.model.calls.some((c) => c.req.messages.at(-1)!.content === 'Design a cache.'));
    const callsBefore = app.model.calls.length;
    const res = await post(
      { model: 'aiproc', stream: false, max_tokens: 1000, messages: [{ role: 'user', content: TITLE_PROMPT }] },
      { 'X-OpenWebUI-Task': 'title_generation', 'X-OpenWebUI-Chat-Id': 'chat-1', 'X-OpenWebUI-Message-Id': 'msg-1' },
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string; reasoning_content?: string } }>; usage: { prompt_tokens: number } };
    assert.equal(body.choices[0]!.message.content, TITLE);
    assert.equal(body.choices[0]!.message.reasoning_content, undefined, 'no reasoning text');
    assert.equal(body.usage.prompt_tokens, 40);
    const calls = app.model.calls.slice(callsBefore);
    assert.equal(calls.length, 1, 'one model call');
    assert.equal(calls[0]!.req.model, 'codellama:7b-instruct', 'the planner model answers');
    assert.equal(calls[0]!.req.format, undefined);
    const recorded = await job(res.headers.get('x-request-id')!);
    assert.deepEqual([recorded.status, recorded.meta.task, recorded.meta.messageId, recorded.answer, recorded.plan, recorded.parts.length], ['completed', 'title_generation', 'msg-1', TITLE, null, 0]);
    held.open();
    assert.match(await (await answer).text(), /Part 1 done/, 'the held part finishes after the task answered');
  });

  test('without the header, the "### Task:" form is recognised; a streamed task sends the output as content, no reasoning', async () => {
    const res = await post({ model: 'codellama-34b', stream: true, messages: [{ role: 'user', content: TITLE_PROMPT }] });
    const chunks = sseData(await res.text());
    assert.equal(chunks.at(-1), '[DONE]');
    const deltas = chunks.slice(0, -1).map((d) => (JSON.parse(d) as { choices: Array<{ delta: Record<string, string> }> }).choices[0]?.delta ?? {});
    assert.equal(deltas.map((d) => d.content ?? '').join(''), TITLE);
    assert.ok(deltas.every((d) => d.reasoning_content === undefined));
    const recorded = await job(res.headers.get('x-request-id')!);
    assert.deepEqual([recorded.meta.task, recorded.model], ['title_generation', 'codellama-34b']);
    assert.equal(recorded.principal, 'local', 'who asked is recorded, as on any job');
  });
});
