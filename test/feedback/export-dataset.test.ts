import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportDataset, modelfile } from '../../scripts/export-dataset.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { openStore, testModels } from './support.ts';

/** A completed split job: one part answered by `model`, the final answer, and a rating. */
async function ratedJob(store: Store, question: string, model: string, score: number): Promise<string> {
  const id = randomUUID();
  await store.createJob({ id, model: 'aiproc', messages: [{ role: 'user', content: question }], owner: 't', stream: false, meta: {} });
  await store.setPlan(id, [{ index: 0, title: 'part', prompt: `part of ${question}`, model }], false);
  await store.startPart(id, 0);
  await store.recordPart({ jobId: id, index: 0, status: 'completed', output: `part answer to ${question}`, usage: { promptTokens: 1, completionTokens: 1 }, finishedAt: new Date().toISOString(), attempts: 1 });
  await store.completeJob(id, `answer to ${question}`, { promptTokens: 1, completionTokens: 1 });
  await store.addRating({ eventSource: 't', eventId: randomUUID(), jobId: id, score });
  return id;
}

describe('export:dataset', () => {
  let store: Store;
  let dir: string;
  before(async () => {
    store = await openStore();
    dir = await mkdtemp(join(tmpdir(), 'aiproc-export-'));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes well-rated jobs as chat JSONL, per-model part examples, and a Modelfile with the active rules', async () => {
    const good = await ratedJob(store, 'What is a monad?', 'coder', 9);
    await ratedJob(store, 'Why is the sky blue?', 'small', 3);
    await store.proposeRule({ scope: 'inference', model: 'coder', text: 'Show a code example.', origin: 'person', active: true });
    await store.proposeRule({ scope: 'inference', model: 'coder', text: 'Not yet approved.', origin: 'n8n', active: false });
    await store.proposeRule({ scope: 'merger', model: '*', text: 'Merger only.', origin: 'person', active: true });

    const lines: string[] = [];
    const summary = await exportDataset(store, testModels, { minScore: 8, outDir: dir, say: (l) => lines.push(l) });
    assert.equal(summary.jobs, 1);
    assert.deepEqual(summary.parts, { small: 0, coder: 1 });

    const chats = (await readFile(join(dir, 'dataset.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(chats, [{
      messages: [{ role: 'user', content: 'What is a monad?' }, { role: 'assistant', content: 'answer to What is a monad?' }],
      metadata: { jobId: good, score: 9 },
    }]);
    const coder = (await readFile(join(dir, 'coder.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(coder[0].messages, [{ role: 'user', content: 'part of What is a monad?' }, { role: 'assistant', content: 'part answer to What is a monad?' }]);
    assert.equal(await readFile(join(dir, 'small.jsonl'), 'utf8'), '');

    const mf = await readFile(join(dir, 'coder.Modelfile'), 'utf8');
    assert.match(mf, /^FROM coder:7b\n/);
    assert.match(mf, /- Show a code example\./);
    assert.doesNotMatch(mf, /Not yet approved|Merger only/);
    assert.ok(lines.some((l) => /coder: 1 part examples, Modelfile with 1 active rule$/.test(l)), lines.join('\n'));
  });

  it('keeps a rule from ending the Modelfile SYSTEM string early', () => {
    const mf = modelfile('m:1b', [{ id: 'a', ruleId: 'a', version: 1, scope: 'inference', model: '*', text: 'Say """ never', reason: null, origin: 'api', active: true, createdAt: '' }]);
    assert.equal(mf.match(/"""/g)?.length, 2);
  });
});
