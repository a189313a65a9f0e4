import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, NotFoundError, RetryLaterError } from '../../functions/lib/errors.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import { pgDriver } from '../../functions/lib/store/pg-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { SupabaseStore } from '../../functions/lib/store/supabase-store.ts';
import { startPostgrestStandin, type Standin } from '../support/postgrest-standin.ts';
import { newJob, storeContract } from './contract.ts';
import { ensureSupabaseRoles, freshDatabase } from './fresh-database.ts';

const KEY = 'service-role-key-for-tests';

// Supabase's roles first, so the migrations' guarded grants apply and the stand-in can run
// every request as service_role: a missing grant fails here as it would on Supabase.
await ensureSupabaseRoles();
const db = await freshDatabase();
const migrator = new SqlStore(pgDriver(db.url));
await migrator.init();
await migrator.close();
const api: Standin = await startPostgrestStandin({ databaseUrl: db.url, serviceRoleKey: KEY });
after(async () => {
  await api.close();
  await db.drop();
});

storeContract('SupabaseStore through the PostgREST stand-in', {
  open: async () => new SupabaseStore({ url: api.url, serviceRoleKey: KEY }),
  concurrent: true,
});

describe('SupabaseStore', () => {
  it('writes only through rpc and reads only with GET', () => {
    const writes = api.requests.filter((r) => r.method !== 'GET');
    assert.ok(writes.length > 50);
    assert.deepEqual(writes.filter((r) => r.method !== 'POST' || !r.path.startsWith('/rest/v1/rpc/')), []);
    assert.ok(api.requests.some((r) => r.method === 'GET' && r.path === '/rest/v1/jobs'));
  });

  it('is what createStore picks for SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY, described without the key', async () => {
    const store = createStore({ SUPABASE_URL: api.url, SUPABASE_SERVICE_ROLE_KEY: KEY, DATABASE_URL: 'postgres://ignored@nowhere/x', AIPROC_DATA_DIR: '/nowhere' });
    assert.equal(store.describe(), `Supabase at ${api.url} (service role)`);
    await store.init();
    const job = newJob();
    await store.createJob(job);
    assert.equal((await store.getJob(job.id))?.id, job.id);
    await assert.rejects(store.startPart(job.id, 0), NotFoundError);
    await store.close();
  });

  it('fails at init with a ConfigError naming the key when it is refused', async () => {
    const store = new SupabaseStore({ url: api.url, serviceRoleKey: 'wrong' });
    await assert.rejects(store.init(), (err: Error) => err instanceof ConfigError && /SUPABASE_SERVICE_ROLE_KEY/.test(err.message));
  });

  it('fails at init with a ConfigError saying to expose the aiproc schema', async () => {
    const other = await startPostgrestStandin({ databaseUrl: db.url, serviceRoleKey: KEY, schemas: ['public'] });
    try {
      const store = new SupabaseStore({ url: other.url, serviceRoleKey: KEY });
      await assert.rejects(store.init(), (err: Error) => err instanceof ConfigError && /aiproc schema is not exposed/.test(err.message));
    } finally {
      await other.close();
    }
  });

  it('fails at init with a ConfigError saying to apply the migrations', async () => {
    const empty = await freshDatabase();
    const other = await startPostgrestStandin({ databaseUrl: empty.url, serviceRoleKey: KEY });
    try {
      const store = new SupabaseStore({ url: other.url, serviceRoleKey: KEY });
      await assert.rejects(store.init(), (err: Error) => err instanceof ConfigError && /migrations are not applied.*supabase db push/.test(err.message));
    } finally {
      await other.close();
      await empty.drop();
    }
  });

  it('says "retry later", naming SUPABASE_URL, when the API does not answer', async () => {
    const store = new SupabaseStore({ url: 'http://127.0.0.1:1', serviceRoleKey: KEY });
    await assert.rejects(store.init(), (err: Error) => err instanceof RetryLaterError && /SUPABASE_URL \(http:\/\/127\.0\.0\.1:1\)/.test(err.message));
    await assert.rejects(store.createJob(newJob()), RetryLaterError);
  });
});

describe('the PostgREST stand-in', () => {
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${api.url}${path}`, { headers: { apikey: KEY, authorization: `Bearer ${KEY}`, ...headers } });

  it('refuses a schema it does not expose, as PostgREST does (406 PGRST106)', async () => {
    const res = await get('/rest/v1/jobs?select=id', { 'accept-profile': 'public' });
    assert.equal(res.status, 406);
    assert.equal(((await res.json()) as { code: string }).code, 'PGRST106');
  });

  it('refuses requests without the service-role key', async () => {
    const res = await fetch(`${api.url}/rest/v1/jobs?select=id`, { headers: { apikey: 'nope', authorization: 'Bearer nope' } });
    assert.equal(res.status, 401);
  });

  it('answers an unknown function with 404 PGRST202 and a raised P0002 with its code', async () => {
    const post = (fn: string, body: unknown) =>
      fetch(`${api.url}/rest/v1/rpc/${fn}`, {
        method: 'POST',
        headers: { apikey: KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-profile': 'aiproc' },
        body: JSON.stringify(body),
      });
    assert.equal((await post('no_such_fn', {})).status, 404);
    const missing = await post('cancel_job', { p_job_id: 'no-such-job' });
    assert.equal(missing.status, 500);
    assert.equal(((await missing.json()) as { code: string }).code, 'P0002');
  });
});
