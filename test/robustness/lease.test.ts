import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan, result, ScriptModel, sleep, startEmbedded, streamedContent, within } from './harness.ts';

// The synthesis lease (AIPROC_SYNTHESIS_LEASE_S, default 120 s) is taken once and never renewed.
// A synthesis that simply takes longer than the lease (a long merged answer: up to 2×AIPROC_MAX_TOKENS
// tokens on a slow GPU or the embedded CPU engine) is taken for a crashed one: the recovery sweep —
// in the same merger — claims the job again and runs a second synthesis beside the first.
test('a synthesis that is still running when its lease runs out is not started a second time', async () => {
  const model = new ScriptModel(async (req, role) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'merger') {
      for (const word of ['The ', 'merged ', 'answer.']) {
        req.onText?.(word);
        await sleep(1500); // a slow but healthy model: 4.5 s in all
      }
      return result('The merged answer.');
    }
    return result('part answer');
  });
  const app = await startEmbedded(model, { AIPROC_SYNTHESIS_LEASE_S: '2', AIPROC_SYNTHESIS: 'rewrite' });
  try {
    const ac = new AbortController();
    const res = await within(
      fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'a and b' }] }),
        signal: ac.signal,
      }).then((r) => r.text()),
      20_000,
    );
    if (res === 'timed out') ac.abort();
    await sleep(5000); // let a second synthesis, if any, run to its end
    assert.equal(model.count('merger'), 1, `the merger model was asked ${model.count('merger')} times for one job`);
    assert.notEqual(res, 'timed out');
    assert.equal(streamedContent(res as string), 'The merged answer.');
  } finally {
    await app.close();
  }
});
