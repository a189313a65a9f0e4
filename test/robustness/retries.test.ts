import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../functions/lib/errors.ts';
import { plan, result, ScriptModel, sleep, startEmbedded, streamedContent, within } from './harness.ts';

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal && { signal }) });

test('a synthesis that dies mid-stream and is done again is shown as a restart, not spliced silently into what the client reads', async () => {
  const model = new ScriptModel(async (req, role, n) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'merger' && n === 1) {
      req.onText?.('MERGED ans');
      await sleep(150); // longer than DeltaSender's 50 ms batch: this text has reached the client
      throw new UpstreamError('ollama failed for codellama:7b-instruct: socket hang up');
    }
    if (role === 'merger') {
      req.onText?.('MERGED answer');
      return result('MERGED answer');
    }
    return result('part answer');
  });
  // A short lease so the re-synthesis (by the recovery sweep) happens within the test.
  const app = await startEmbedded(model, { AIPROC_SYNTHESIS_LEASE_S: '2', AIPROC_SYNTHESIS: 'rewrite' });
  try {
    const ac = new AbortController();
    const res = await within(post(app.url, { model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'a and b' }] }, ac.signal).then(async (r) => ({ id: r.headers.get('x-request-id'), text: await r.text() })), 15_000);
    if (res === 'timed out') ac.abort();
    assert.notEqual(res, 'timed out');
    const { id, text } = res as { id: string; text: string };
    const job = (await (await fetch(`${app.url}/v1/jobs/${id}`)).json()) as { answer: string };
    assert.equal(job.answer, 'MERGED answer', 'the stored answer is the clean one');
    // what went out cannot be taken back; the restart is marked, then the full answer follows
    assert.equal(streamedContent(text), 'MERGED ans\n\n[the model failed mid-answer; retrying (attempt 2)]\n\nMERGED answer');
  } finally {
    await app.close();
  }
});

test('a synthesis that fails once (retryable) is retried promptly, not after the 120 s synthesis lease', async () => {
  const model = new ScriptModel(async (_req, role, n) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'merger' && n === 1) throw new UpstreamError('ollama failed for codellama:7b-instruct: 500 model busy');
    if (role === 'merger') return result('MERGED');
    return result('part answer');
  });
  const app = await startEmbedded(model, { AIPROC_SYNTHESIS: 'rewrite' }); // AIPROC_TASK_ATTEMPTS=3, AIPROC_RETRY_DELAY_MS=10
  try {
    const ac = new AbortController();
    const reply = await within(post(app.url, { model: 'aiproc', messages: [{ role: 'user', content: 'a and b' }] }, ac.signal).then((r) => r.json()), 10_000);
    if (reply === 'timed out') ac.abort();
    assert.notEqual(reply, 'timed out', `no answer after 10 s; merger calls: ${model.count('merger')} (the merger's own lease blocks its retries)`);
    assert.equal((reply as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content, 'MERGED');
  } finally {
    await app.close();
  }
});

test('a synthesis that keeps failing ends the job with an error instead of leaving the client waiting for ever', async () => {
  const model = new ScriptModel(async (_req, role) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'merger') throw new UpstreamError('ollama at http://ollama:11434 (OLLAMA_HOST) is not reachable: ECONNREFUSED');
    return result('part answer');
  });
  // A short lease so that "later" comes within the test: the recovery sweep runs every second.
  const app = await startEmbedded(model, { AIPROC_SYNTHESIS_LEASE_S: '2', AIPROC_SYNTHESIS: 'rewrite' });
  try {
    const ac = new AbortController();
    const reply = await within(post(app.url, { model: 'aiproc', messages: [{ role: 'user', content: 'a and b' }] }, ac.signal).then(async (r) => ({ status: r.status, body: await r.text() })), 12_000);
    if (reply === 'timed out') ac.abort();
    assert.notEqual(reply, 'timed out', `the client still waits after 12 s; the merger model was called ${model.count('merger')} times (AIPROC_TASK_ATTEMPTS is 3)`);
    assert.equal((reply as { status: number }).status, 502);
  } finally {
    await app.close();
  }
});
