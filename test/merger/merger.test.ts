import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import type { FunctionContext } from '../../functions/lib/context.ts';
import { RetryLaterError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent, type AiprocEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { createLogger } from '../../functions/lib/log.ts';
import type { ChatRequest, ChatResult, ModelClient } from '../../functions/lib/models/types.ts';
import { RulesCache } from '../../functions/lib/rules.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { mergerHandler, synthesise } from '../../functions/merger/handler.ts';

/** A model that answers at once and counts calls. */
class CountingModel implements ModelClient {
  readonly backend = 'scripted' as const;
  calls: ChatRequest[] = [];
  describe() {
    return 'counting';
  }
  async chat(req: ChatRequest): Promise<ChatResult> {
    this.calls.push(req);
    await new Promise((r) => setImmediate(r));
    req.onText?.('merged');
    return { content: 'merged', usage: { promptTokens: 7, completionTokens: 1 }, durations: { totalMs: 1 } };
  }
  async close() {}
}

describe('the merger', () => {
  let store: Store;
  let ctx: FunctionContext;
  let dataDir: string;
  let model: CountingModel;
  const emitted: AnyEvent[] = [];
  const info = { attempt: 1, signal: new AbortController().signal };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aiproc-merger-'));
    const settings = loadSettings({ AIPROC_DATA_DIR: dataDir }, { dotenv: false });
    store = createStore(settings);
    await store.init();
    model = new CountingModel();
    ctx = {
      settings,
      config: loadModelsConfig(new URL('../../models.json', import.meta.url).pathname),
      store,
      model,
      rules: new RulesCache(store),
      log: createLogger('silent'),
      emit: async (e) => void emitted.push(e),
      instance: 'merger-test',
    };
  });
  after(async () => {
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function jobWithParts(n: number): Promise<string> {
    const jobId = crypto.randomUUID();
    await store.createJob({ id: jobId, model: 'aiproc', messages: [{ role: 'user', content: 'q' }], owner: 'owner-1', stream: false, meta: {} });
    await store.setPlan(jobId, Array.from({ length: n }, (_, index) => ({ index, title: `t${index}`, prompt: 'p', model: 'codellama-7b' })), false);
    return jobId;
  }
  const done = (jobId: string, index: number) =>
    makeEvent(
      EventTypes.taskCompleted,
      { jobId, index, model: 'codellama-7b', output: `out${index}`, usage: { promptTokens: 1, completionTokens: 1 }, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), attempts: 1 },
      { source: 'test', jobid: jobId, owner: 'owner-1', model: 'codellama-7b' },
    ) as AiprocEvent<typeof EventTypes.taskCompleted>;

  test('synthesises once when the last two parts arrive together', async () => {
    const jobId = await jobWithParts(3);
    await mergerHandler(done(jobId, 0), ctx, info);
    const before = model.calls.length;
    const results = await Promise.allSettled([mergerHandler(done(jobId, 1), ctx, info), mergerHandler(done(jobId, 2), ctx, info)]);
    // the loser of the claim either sees 'done' or is told to retry later; never a second synthesis
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof RetryLaterError, String(r.reason));
    await synthesise(ctx, jobId); // a retry after the winner finished changes nothing
    assert.equal(model.calls.length - before, 1);
    const completed = emitted.filter((e) => e.type === EventTypes.jobCompleted && e.jobid === jobId);
    assert.equal(completed.length, 1);
    assert.equal((await store.getJob(jobId))!.answer, 'merged');
  });

  test('a part given up on is recorded, and announced, without the internal addresses its error quotes', async () => {
    // GIVEN a task.failed whose reason quotes a model server's and a database's address
    const jobId = await jobWithParts(2);
    const reason = 'ollama at http://10.0.0.5:11434 refused; the database at postgres://db:5432/aiproc is down';
    const failed = makeEvent(EventTypes.taskFailed, { jobId, index: 1, model: 'codellama-7b', error: reason, attempts: 3 }, { source: 'test', jobid: jobId, owner: 'owner-1', model: 'codellama-7b' });
    // WHEN the merger records it
    await mergerHandler(failed, ctx, info);
    // THEN the part's error and the progress line say why, with the addresses replaced
    const expected = 'ollama at <internal address> refused; the database at <internal address> is down';
    assert.equal((await store.getJob(jobId))!.parts[1]!.error, expected);
    const line = emitted.find((e) => e.type === EventTypes.jobProgress && e.jobid === jobId && (e.data as { stage: string }).stage === 'part.failed');
    assert.equal((line!.data as { message: string }).message, `Part 2 failed: ${expected}`);
  });

  test('the same task.completed twice changes nothing', async () => {
    const jobId = await jobWithParts(2);
    const first = done(jobId, 0);
    await mergerHandler(first, ctx, info);
    await mergerHandler(first, ctx, info);
    const job = await store.getJob(jobId);
    assert.equal(job!.parts.filter((p) => p.status === 'completed').length, 1);
    assert.equal(job!.status, 'running');
    const progress = emitted.filter((e) => e.type === EventTypes.jobProgress && e.jobid === jobId && (e.data as { stage: string }).stage === 'part.completed');
    assert.equal(progress.length, 1, 'one progress event for one recorded part');
  });
});
