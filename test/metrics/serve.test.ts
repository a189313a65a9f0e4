import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVhost } from '../bus/amqp-support.ts';
import { freshDatabase } from '../store/fresh-database.ts';
import { spawnListening, type AiprocProcess } from '../support/aiproc-process.ts';
import { TEST_EVENT_KEY } from '../support/event-keys.ts';
import { scrape } from '../support/prometheus.ts';

// Each standalone function (npm run serve, what Knative runs) answers its own /metrics.
describe('GET /metrics on a standalone function (npm run serve)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let mq: Awaited<ReturnType<typeof createVhost>>;
  let fn: AiprocProcess;

  before(async () => {
    db = await freshDatabase();
    mq = await createVhost('metrics-serve');
    fn = await spawnListening('functions/serve.ts', { FUNCTION: 'merger', PORT: '0', DATABASE_URL: db.url, AMQP_URL: mq.url, LOG_LEVEL: 'warn', AIPROC_EVENT_KEYS: TEST_EVENT_KEY });
  });
  after(async () => {
    await fn?.stop();
    await mq?.drop();
    await db?.drop();
  });

  test('the merger function serves its metrics in the Prometheus text format', async () => {
    const m = await scrape(fn.url);
    const names = m.families.map((f) => f.name);
    for (const name of ['aiproc_parts_finished_total', 'aiproc_model_request_duration_seconds', 'aiproc_dead_letters_total', 'process_cpu_seconds_total']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  });
});
