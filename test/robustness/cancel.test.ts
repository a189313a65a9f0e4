import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError } from '../../functions/lib/errors.ts';
import { hubs, plan, result, ScriptModel, sleep, startEmbedded } from './harness.ts';
import { waitFor } from '../support/wait.ts';

/** A part that generates until its signal is aborted. */
const untilAborted = (signal: AbortSignal | undefined) =>
  new Promise<never>((_, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    signal?.addEventListener('abort', () => reject(new CancelledError()), { once: true });
  });

for (const stream of [true, false]) {
  test(`a client that disconnects while parts run (stream: ${stream}) leaves no reply listener behind`, async () => {
    const model = new ScriptModel(async (req, role) => {
      if (role === 'planner') return plan([['A', 'a?', 'codellama-7b'], ['B', 'b?', 'codellama-34b']]);
      if (role === 'part') return untilAborted(req.signal);
      return result('merged');
    });
    const app = await startEmbedded(model);
    try {
      const ac = new AbortController();
      const res = fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'aiproc', stream, messages: [{ role: 'user', content: 'a and b' }] }),
        signal: ac.signal,
      }).then((r) => r.text());
      res.catch(() => undefined);
      await waitFor('both parts running', () => model.count('part') === 2);
      const hub = hubs.at(-1)!;
      assert.equal(hub.size, 1, 'the request waits on its job');
      ac.abort();
      const id = ((await (await fetch(`${app.url}/v1/jobs?limit=1`)).json()) as { data: Array<{ id: string }> }).data[0]!.id;
      await waitFor('job cancelled', async () => ((await (await fetch(`${app.url}/v1/jobs/${id}`)).json()) as { status: string }).status === 'cancelled');
      // The job is over (cancelled): nothing will ever complete it, so whoever waited on it must let go.
      await waitFor('the cancelled request to release its reply-hub listener (its handler to return)', () => hub.size === 0, 5_000);
    } finally {
      await app.close();
    }
  });
}
