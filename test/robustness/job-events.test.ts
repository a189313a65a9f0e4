import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gate, plan, result, ScriptModel, sleep, startEmbedded } from './harness.ts';
import { waitFor } from '../support/wait.ts';

test('GET /v1/jobs/:id/events sends each progress event once, even when several arrive together', async () => {
  const planning = gate();
  const model = new ScriptModel(async (_req, role) => {
    if (role === 'planner') {
      await planning.wait; // until the event stream is open
      return plan([
        ['A', 'a?', 'codellama-7b'],
        ['B', 'b?', 'codellama-34b'],
        ['C', 'c?', 'codellama-70b'],
        ['D', 'd?', 'codellama-7b'],
      ]);
    }
    if (role === 'part') {
      await sleep(200);
      return result('part answer');
    }
    return result('merged');
  });
  const app = await startEmbedded(model);
  try {
    const answer = fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'a, b, c and d' }] }),
    }).then((r) => r.json());
    let id = '';
    await waitFor('the job exists', async () => {
      const jobs = ((await (await fetch(`${app.url}/v1/jobs?limit=1`)).json()) as { data: Array<{ id: string }> }).data;
      id = jobs[0]?.id ?? '';
      return id !== '';
    });
    const stream = await fetch(`${app.url}/v1/jobs/${id}/events`);
    planning.open();
    const events = await stream.text();
    await answer;
    const ids = [...events.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const stored = ((await (await fetch(`${app.url}/v1/jobs/${id}`)).json()) as { status: string }).status;
    assert.equal(stored, 'completed');
    assert.ok(ids.length >= 5, `expected the plan, 4 part starts, 4 part ends and the merge; got ids ${ids.join(',')}`);
    assert.deepEqual(ids, [...new Set(ids)], `progress events repeated on the stream: ids ${ids.join(',')}`);
  } finally {
    await app.close();
  }
});

// Issue 4: "Postgres restarted during load: handlers retry … none stuck"; issue 2: "nothing crashes
// the process". job-events.ts calls `void replay()` on each live progress event (and `await replay()`
// in a setInterval callback): a store error there is an unhandled rejection, which ends a Node
// process that has no handler for it (functions/main.ts, serve.ts and cluster.ts install none).
test('a store error while GET /v1/jobs/:id/events follows a job is not an unhandled rejection (which would end the process)', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const parts = gate();
  const model = new ScriptModel(async (_req, role) => {
    if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
    if (role === 'part') {
      await parts.wait;
      return result('part answer');
    }
    return result('merged');
  });
  const app = await startEmbedded(model);
  try {
    const answer = fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'a and b' }] }),
    }).then((r) => r.text());
    await waitFor('parts running', () => model.count('part') === 2);
    const id = (await app.store.listJobs(1))[0]!.id;
    const events = await fetch(`${app.url}/v1/jobs/${id}/events`);
    const reader = events.body!.getReader();
    await reader.read(); // the history is out: the route now follows the job live
    // The database goes away for a moment (a Postgres restart).
    const { RetryLaterError } = await import('../../functions/lib/errors.ts');
    app.store.listJobEvents = async () => {
      throw new RetryLaterError('the database at DATABASE_URL is unreachable (ECONNREFUSED)');
    };
    parts.open(); // parts complete: progress events arrive live
    await answer;
    // The stream ends only after every replay it started has settled.
    while (!(await reader.read()).done);
    assert.deepEqual(unhandled.map(String), []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await app.close();
  }
});
