import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../functions/app.ts';
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { CancelledError } from '../../functions/lib/errors.ts';
import { createLogger } from '../../functions/lib/log.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import { createVhost } from '../bus/amqp-support.ts';
import { waitFor } from '../support/wait.ts';
import { plan, result, ROOT, ScriptModel, sleep } from './harness.ts';
import { testEventKeys } from '../support/event-keys.ts';

// `npm run cluster` / Knative: the splitter and the inference functions are separate processes on
// RabbitMQ (here: two runtimes, each with its own AmqpBus, as cluster.ts composes them). On the
// in-process bus a client that goes away aborts the generation of its parts (MemoryBus.cancelJob);
// docs/architecture.md says both buses have the same semantics, README says a disconnect cancels the job's parts.
test('on RabbitMQ, a client that disconnects stops the generation of its running parts (as on the in-process bus)', async () => {
  const vh = await createVhost('robust-cancel');
  const dir = mkdtempSync(join(tmpdir(), 'aiproc-robust-'));
  const settings = loadSettings({ AIPROC_DATA_DIR: dir, AIPROC_MODELS_FILE: join(ROOT, 'models.json'), PORT: '0', AIPROC_RETRY_DELAY_MS: '10', LOG_LEVEL: 'silent' }, { dotenv: false });
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const log = createLogger('silent');
  const store = createStore(settings, log);
  await store.init();
  const slugs = config.models.map((m) => m.slug);
  let partAborted = 0;
  let partFinished = 0;
  const model = new ScriptModel(async (req, role) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'part') {
      // A long generation: 8 s unless aborted.
      const aborted = await Promise.race([
        sleep(8000).then(() => false),
        new Promise<boolean>((r) => req.signal?.addEventListener('abort', () => r(true), { once: true })),
      ]);
      if (aborted) {
        partAborted++;
        throw new CancelledError();
      }
      partFinished++;
      return result('part answer');
    }
    return result('merged');
  });
  const busS = await AmqpBus.start({ url: vh.url, log, instance: 'splitter', models: slugs, retryDelayMs: 10, eventKeys: testEventKeys });
  const busW = await AmqpBus.start({ url: vh.url, log, instance: 'worker', models: slugs, retryDelayMs: 10, relayDeadTasks: true, eventKeys: testEventKeys });
  const splitter = await startRuntime({ settings, config, log, bus: busS, store, model, roles: { splitter: true }, instance: 'splitter' });
  const worker = await startRuntime({ settings, config, log, bus: busW, store, model, roles: { inference: slugs, merger: true }, instance: 'worker', listen: false });
  try {
    const ac = new AbortController();
    const res = fetch(`${splitter.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'a and b' }] }),
      signal: ac.signal,
    }).then((r) => r.text());
    res.catch(() => undefined);
    await waitFor('both parts generating', () => model.count('part') === 2, 15_000);
    ac.abort();
    await waitFor('both running parts to be stopped in the worker process (else the models keep generating for nobody)', () => partAborted === 2, 10_000);
    const jobs = (await store.listJobs(1))[0]!;
    assert.equal(jobs.status, 'cancelled', 'the job is cancelled in the store');
  } finally {
    await splitter.close().catch(() => {});
    await worker.close().catch(() => {});
    await busS.close().catch(() => {});
    await busW.close().catch(() => {});
    await store.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await vh.drop().catch(() => {});
  }
});
