import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { gate, result, ScriptModel, startEmbedded, type Embedded } from '../robustness/harness.ts';
import { waitFor } from '../support/wait.ts';

// OWASP LLM10 (unbounded consumption): one key cannot hold every model, nor spend without end.

const keys = { AIPROC_API_KEYS: 'alice:key-a,bob:key-b', AIPROC_GATEWAY_KEYS: 'owui:key-g' };
const chat = (app: Embedded, key: string, user?: string) =>
  fetch(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(user && { 'x-openwebui-user-id': user }) },
    body: JSON.stringify({ model: 'codellama-7b', messages: [{ role: 'user', content: 'hi' }] }),
  });

/** A model that holds every answer until `hold.open()`. */
function heldModel() {
  const hold = gate();
  const model = new ScriptModel(async () => {
    await hold.wait;
    return result('done');
  });
  return { hold, model };
}

describe('limits per principal', () => {
  const apps: Embedded[] = [];
  after(() => Promise.all(apps.map((a) => a.close())));

  test('AIPROC_MAX_JOBS_PER_KEY: a key with that many jobs running gets 429 with Retry-After; other keys and end users do not', async () => {
    const { hold, model } = heldModel();
    const app = await startEmbedded(model, { ...keys, AIPROC_MAX_JOBS_PER_KEY: '1' });
    apps.push(app);
    const first = chat(app, 'key-a');
    await waitFor('alice\'s first job runs', () => model.calls.length === 1);
    const second = await chat(app, 'key-a');
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '10');
    const err = ((await second.json()) as { error: { type: string; message: string } }).error;
    assert.equal(err.type, 'rate_limit_error');
    assert.match(err.message, /alice has 1 jobs running; at most 1 at once \(AIPROC_MAX_JOBS_PER_KEY\)/);
    const bob = chat(app, 'key-b');
    const u1 = chat(app, 'key-g', 'u1');
    const u2 = chat(app, 'key-g', 'u2');
    await waitFor('bob\'s and both OpenWebUI users\' jobs are made', async () => (await app.store.listJobs(10)).length === 4);
    hold.open();
    for (const r of await Promise.all([first, bob, u1, u2])) assert.equal(r.status, 200);
    assert.equal((await chat(app, 'key-a')).status, 200, 'once the first is done, alice may go on');
  });

  test('AIPROC_MAX_JOBS_PER_KEY holds for requests at the same instant: the count and the new job are one step', async () => {
    // GIVEN a limit of 2 and a model that holds every answer
    const { hold, model } = heldModel();
    const app = await startEmbedded(model, { ...keys, AIPROC_MAX_JOBS_PER_KEY: '2' });
    apps.push(app);
    // AND six requests that all read the usage before any of their jobs exists (what two splitter
    // instances, or one busy one, can do): each waits after its read until all six have read
    const usage = app.store.principalUsage.bind(app.store);
    const allRead = gate();
    let reads = 0;
    app.store.principalUsage = async (...args) => {
      const seen = await usage(...args);
      if (++reads === 6) allRead.open();
      await allRead.wait;
      return seen;
    };
    // WHEN alice sends them
    const sent = Array.from({ length: 6 }, () => chat(app, 'key-a'));
    try {
      const answered: Response[] = [];
      for (const r of sent) void r.then((res) => answered.push(res));
      // (a request is decided once it is refused or its job exists)
      await waitFor('all six requests are decided', async () => answered.length + (await app.store.listJobs(20)).length >= 6);
      // THEN four are refused with the limit named, and only two jobs exist
      assert.deepEqual(answered.map((r) => r.status), [429, 429, 429, 429]);
      for (const res of answered) {
        assert.equal(res.headers.get('retry-after'), '10');
        assert.match(((await res.json()) as { error: { message: string } }).error.message, /alice has 2 jobs running; at most 2 at once \(AIPROC_MAX_JOBS_PER_KEY\)/);
      }
      assert.equal((await app.store.listJobs(20)).length, 2);
    } finally {
      hold.open();
    }
    // AND the two let in are answered
    assert.deepEqual((await Promise.all(sent)).map((r) => r.status).sort(), [200, 200, 429, 429, 429, 429]);
  });

  test('AIPROC_MAX_TOKENS_PER_DAY: a key past it gets 429 with Retry-After until its oldest job leaves the 24 hours', async () => {
    const model = new ScriptModel(async () => result('done', 5, 5));
    const app = await startEmbedded(model, { ...keys, AIPROC_MAX_TOKENS_PER_DAY: '25' });
    apps.push(app);
    for (let i = 0; i < 3; i++) assert.equal((await chat(app, 'key-a')).status, 200);
    const over = await chat(app, 'key-a');
    assert.equal(over.status, 429);
    const after = Number(over.headers.get('retry-after'));
    assert.ok(after > 86_000 && after <= 86_400, `Retry-After ${after}`);
    assert.match(((await over.json()) as { error: { message: string } }).error.message, /used 30 tokens in the last 24 hours; at most 25/);
    assert.equal(model.calls.length, 3, 'the refused request reached no model');
    assert.equal((await chat(app, 'key-b')).status, 200, 'bob has his own budget');
  });

  test('open mode (no keys) has no limits', async () => {
    const model = new ScriptModel(async () => result('done', 50, 50));
    const app = await startEmbedded(model, { AIPROC_MAX_TOKENS_PER_DAY: '10', AIPROC_MAX_JOBS_PER_KEY: '1' });
    apps.push(app);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'codellama-7b', messages: [{ role: 'user', content: 'hi' }] }) });
      assert.equal(res.status, 200);
    }
  });
});
