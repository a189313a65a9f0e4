import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { waitFor } from '../support/wait.ts';
import { roleOf, startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';

interface JobView {
  id: string;
  status: string;
  fastPath: boolean;
  parts: { index: number; model: string; status: string; attempts: number; usage: { promptTokens: number; completionTokens: number } }[];
  answer: string | null;
  usage: { promptTokens: number; completionTokens: number };
}

/** Reads a raw SSE body into its `data:` payloads. */
async function sse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
    .filter((d) => d !== '');
}

/** The stitched answer to "three topics": the parts verbatim in plan order between the merger's joins. */
const THREE = 'OPENING\n\n### Alpha\n\nanswer(Explain alpha.)\n\n### Beta\n\nanswer(Explain beta.)\n\n### Gamma\n\nanswer(Explain gamma.)\n\nCLOSING';

describe('the pipeline through npm start and the openai client', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess & { dataDir: string };
  let client: OpenAI;
  const job = async (id: string): Promise<JobView> => (await fetch(`${app.url}/v1/jobs/${id}`)).json() as Promise<JobView>;

  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
    client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'unused' });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  test('npm start says where it listens, which backend it found, the data folder and that auth is off', () => {
    const out = app.stdout();
    assert.match(out, /API: +http:\/\/127\.0\.0\.1:\d+\/v1/);
    assert.match(out, new RegExp(`models: +ollama at ${ollama.url.replace(/[.]/g, '\\.')}`));
    assert.ok(out.includes(app.dataDir), out);
    assert.match(out, /auth: +OFF/);
    // the port it names is the one it listens on (PORT=0 here: a free port, never ":0")
    assert.ok(out.includes(`anyone who can reach ${new URL(app.url).host} is an administrator`), out);
  });

  test('lists the pipeline and every configured model', async () => {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['aiproc', 'codellama-7b', 'codellama-34b', 'codellama-70b']);
  });

  test('a request the planner splits in three comes back as one stitched answer, parts visible in the job API', async () => {
    const before = ollama.received.length;
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'Tell me about three topics.' }] });
    assert.equal(res.choices[0]!.message.content, THREE);
    assert.equal(res.object, 'chat.completion');
    const j = await job(res.id);
    assert.equal(j.status, 'completed');
    assert.equal(j.fastPath, false);
    assert.deepEqual(j.parts.map((p) => [p.index, p.model, p.status]), [
      [0, 'codellama-7b', 'completed'],
      [1, 'codellama-34b', 'completed'],
      [2, 'codellama-70b', 'completed'],
    ]);
    const calls = ollama.received.slice(before);
    assert.equal(calls.filter((c) => roleOf(c) === 'planner').length, 1);
    assert.equal(calls.filter((c) => roleOf(c) === 'merger').length, 2, 'the merger model writes only the two joins');
    assert.deepEqual(calls.filter((c) => roleOf(c) === 'part').map((c) => c.model).sort(), ['codellama:34b-instruct', 'codellama:70b-instruct', 'codellama:7b-instruct']);
    // usage is the sum of planning, parts and synthesis, and matches the job
    assert.ok(res.usage && res.usage.total_tokens > 0);
    assert.equal(res.usage.prompt_tokens, j.usage.promptTokens);
    assert.equal(res.usage.completion_tokens, j.usage.completionTokens);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
  });

  test('the stream is well-formed: role first, reasoning for progress, content, stop, usage, [DONE]', async () => {
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Three topics, streamed.' }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const id = res.headers.get('x-request-id');
    assert.ok(id);
    const data = await sse(res);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.ok(chunks.every((c) => c.id === id && c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const reasoning = chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('');
    assert.match(reasoning, /Split into 3 parts/);
    assert.match(reasoning, /Part 3 done/);
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, THREE);
    const stop = chunks.findIndex((c) => c.choices[0]?.finish_reason === 'stop');
    assert.equal(stop, chunks.length - 2);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    // the plan comes before the answer; later progress may follow answer text (stitched parts
    // stream while others run): OpenWebUI 0.12.4 adds it to the reasoning block it already shows
    const firstContent = chunks.findIndex((c) => c.choices[0]?.delta?.content);
    const plan = chunks.findIndex((c) => /Split into/.test(c.choices[0]?.delta?.reasoning_content ?? ''));
    assert.ok(plan >= 0 && plan < firstContent);
  });

  test('a request that needs no split takes the fast path: one part, tokens streamed through, no synthesis call', async () => {
    const before = ollama.received.length;
    const stream = await client.chat.completions.create({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'Just one thing please' }] });
    let text = '';
    let id = '';
    for await (const c of stream) {
      id = c.id;
      text += c.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'answer(Just one thing please)');
    const calls = ollama.received.slice(before);
    assert.equal(calls.filter((c) => roleOf(c) === 'merger').length, 0, 'no synthesis call');
    const j = await job(id);
    assert.equal(j.fastPath, true);
    assert.equal(j.parts.length, 1);
    assert.equal(j.parts[0]!.model, 'codellama-34b');
    assert.equal(j.answer, 'answer(Just one thing please)');
  });

  test('a model asked for directly answers alone, without planning', async () => {
    const before = ollama.received.length;
    const res = await client.chat.completions.create({ model: 'codellama-70b', messages: [{ role: 'user', content: 'direct question' }] });
    assert.equal(res.choices[0]!.message.content, 'answer(direct question)');
    const calls = ollama.received.slice(before);
    assert.deepEqual(calls.map((c) => [roleOf(c), c.model]), [['part', 'codellama:70b-instruct']]);
  });

  test('an unusable plan falls back to one part', async () => {
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'garbage plan please' }] });
    assert.equal(res.choices[0]!.message.content, 'answer(garbage plan please)');
    const j = await job(res.id);
    assert.equal(j.parts.length, 1);
  });

  test('the plan is cleaned: repeated parts answered once, a model not configured replaced by the planner\'s', async () => {
    const rep = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'repeated parts please' }] });
    assert.deepEqual((await job(rep.id)).parts.map((p) => p.model), ['codellama-7b', 'codellama-7b']);
    assert.equal(rep.choices[0]!.message.content, 'OPENING\n\n### A\n\nanswer(Explain alpha.)\n\n### B\n\nanswer(Explain beta.)\n\nCLOSING');
    const unk = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'unknown model please' }] });
    assert.deepEqual((await job(unk.id)).parts.map((p) => p.model), ['codellama-7b', 'codellama-70b']);
  });

  test('a failed part yields a partial answer that says what is missing', async () => {
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'two topics with FAIL' }] });
    const text = res.choices[0]!.message.content ?? '';
    assert.match(text, /^OPENING\n\n### Good\n\nanswer\(Explain good\.\)\n\nCLOSING/);
    assert.match(text, /incomplete: part 2 "Bad"/);
    const j = await job(res.id);
    assert.equal(j.status, 'completed');
    assert.deepEqual(j.parts.map((p) => p.status), ['completed', 'failed']);
    assert.equal(j.parts[1]!.attempts, 3, 'retried up to AIPROC_TASK_ATTEMPTS');
  });

  test('when every part fails the client gets an error, not a hang', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'all FAIL' }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && /every part failed/.test(err.message),
    );
    const stream = await client.chat.completions.create({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'all FAIL, streamed' }] });
    await assert.rejects(async () => {
      for await (const _ of stream) void _;
    }, /every part failed/);
  });

  test('the job API streams a finished job\'s history as server-sent events', async () => {
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics again' }] });
    const events = await fetch(`${app.url}/v1/jobs/${res.id}/events`);
    assert.equal(events.status, 200);
    const text = await events.text();
    assert.match(text, /event: progress/);
    assert.match(text, /"stage":"planned"/);
    assert.match(text, /event: completed\ndata: .*"answer":"OPENING\\n\\n### Alpha/);
  });

  test('a fast-path answer that breaks mid-stream is retried, and the stream says so instead of splicing', async () => {
    let calls = 0;
    ollama.setResponder((req) => {
      if (roleOf(req) !== 'part') return pipelineScript(req);
      calls++;
      return calls === 1 ? { breakAfter: 2, content: 'AAAA BBBB CCCC DDDD', chunkDelayMs: 150 } : { content: 'the full answer', chunks: 3 };
    });
    try {
      const stream = await client.chat.completions.create({ model: 'codellama-7b', stream: true, messages: [{ role: 'user', content: 'flaky' }] });
      let text = '';
      let id = '';
      for await (const c of stream) {
        id = c.id;
        text += c.choices[0]?.delta?.content ?? '';
      }
      assert.equal(calls, 2);
      assert.match(text, /^AAAA BBBB /, 'what went out before the failure stays');
      assert.match(text, /\[the model failed mid-answer; retrying \(attempt 2\)\]/);
      assert.ok(text.endsWith('the full answer'));
      const j = await job(id);
      assert.equal(j.answer, 'the full answer', 'the stored answer is the clean one');
      assert.equal(j.parts[0]!.attempts, 2);
    } finally {
      ollama.setResponder(pipelineScript);
    }
  });

  test('a client that goes away cancels the job\'s pending parts', async () => {
    ollama.setResponder((req) => (roleOf(req) === 'part' ? { endless: 'x', chunkDelayMs: 5 } : pipelineScript(req)));
    try {
      const ac = new AbortController();
      const res = await fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'three topics that never end' }] }),
        signal: ac.signal,
      });
      const id = res.headers.get('x-request-id')!;
      const reader = res.body!.getReader();
      // wait until the parts are running, then hang up
      let seen = '';
      while (!/started on codellama-70b/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
      // the job's event stream ends when the job does
      const events = await (await fetch(`${app.url}/v1/jobs/${id}/events`)).text();
      assert.match(events, /event: failed\ndata: .*"status":"cancelled"/);
      const j = await job(id);
      assert.equal(j.status, 'cancelled');
      // and generation really stops: no answer is still being generated (the parts would stream forever)
      await waitFor('every part generation to stop', () => ollama.open === 0);
      assert.ok(j.parts.every((p) => p.status === 'cancelled'), JSON.stringify(j.parts.map((p) => p.status)));
    } finally {
      ollama.setResponder(pipelineScript);
    }
  });
});
