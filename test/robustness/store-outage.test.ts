import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryLaterError } from '../../functions/lib/errors.ts';
import { waitFor } from '../support/wait.ts';
import { gate, plan, result, ScriptModel, sleep, startEmbedded, within } from './harness.ts';

// Issue 4: "Postgres restarted during load: handlers retry, jobs complete or fail visibly; none stuck
// forever." With the default retry settings (AIPROC_TASK_ATTEMPTS=3, AIPROC_RETRY_DELAY_MS=500) a
// result that lands while the database is away for ~3 s (a Postgres restart) is retried for ~1.5 s,
// then dead-lettered; the merger's dead-letter handler (mergeFailed) needs the database too, fails,
// and the part result is dropped ("dead-letter handler failed; the event is lost"). The part stays
// 'running', the job never completes nor fails, and the client waits for ever.
test('a part result that arrives while the database restarts is not lost: the job still ends', async () => {
  const parts = gate();
  const model = new ScriptModel(async (_req, role) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'part') {
      await parts.wait;
      return result('part answer');
    }
    return result('merged');
  });
  const app = await startEmbedded(model, { AIPROC_RETRY_DELAY_MS: '500', AIPROC_TASK_ATTEMPTS: '3' });
  // The database is unreachable while `down` (what the drivers turn ECONNREFUSED into).
  let down = false;
  const store = app.store as unknown as Record<string, unknown>;
  for (const name of ['recordPart', 'getJob', 'failJob', 'claimSynthesis', 'completeJob', 'addJobEvent', 'startPart', 'activeRules', 'jobsAwaitingSynthesis']) {
    const orig = (store[name] as (...a: unknown[]) => Promise<unknown>).bind(app.store);
    store[name] = async (...args: unknown[]) => {
      if (down) throw new RetryLaterError('the database at DATABASE_URL (postgres://127.0.0.1:5432/aiproc) is unreachable (ECONNREFUSED)');
      return orig(...args);
    };
  }
  try {
    const ac = new AbortController();
    const answer = fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'a and b' }] }),
      signal: ac.signal,
    }).then(async (r) => ({ status: r.status, body: await r.text() }));
    answer.catch(() => undefined);
    await waitFor('parts running', () => model.count('part') === 2);
    down = true; // Postgres restarts…
    parts.open(); // …while the parts finish
    await sleep(3000);
    down = false; // …and is back 3 s later
    const reply = await within(answer, 10_000);
    if (reply === 'timed out') ac.abort();
    const job = (await app.store.listJobs(1))[0]!;
    assert.notEqual(reply, 'timed out', `10 s after the database came back the client still waits; job "${job.status}", parts ${JSON.stringify(job.parts.map((p) => p.status))}`);
  } finally {
    await app.close();
  }
});
