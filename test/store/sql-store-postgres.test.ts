import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RetryLaterError } from '../../functions/lib/errors.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import { pgDriver } from '../../functions/lib/store/pg-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { newJob, storeContract } from './contract.ts';
import { adminClient, freshDatabase } from './fresh-database.ts';

const db = await freshDatabase();
after(() => db.drop());

storeContract('SqlStore on Postgres', { open: async () => new SqlStore(pgDriver(db.url)), concurrent: true });

describe('SqlStore on Postgres', () => {
  it('migrates once when several processes start together', async () => {
    const fresh = await freshDatabase();
    try {
      const stores = Array.from({ length: 4 }, () => new SqlStore(pgDriver(fresh.url, undefined, { max: 2 })));
      await Promise.all(stores.map((s) => s.init()));
      const driver = pgDriver(fresh.url);
      const rows = await driver.query<{ name: string; n: number }>(
        'select name, count(*)::int as n from aiproc.schema_migrations group by name',
      );
      await driver.close();
      assert.ok(rows.length >= 4);
      assert.ok(rows.every((r) => r.n === 1));
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await fresh.drop();
    }
  });

  it('is what createStore picks for DATABASE_URL, described without the password', () => {
    const store = createStore({ DATABASE_URL: 'postgres://aiproc:s3cret@db.example:5432/aiproc', AIPROC_DATA_DIR: '/nowhere', SUPABASE_URL: undefined, SUPABASE_SERVICE_ROLE_KEY: undefined });
    assert.equal(store.describe(), 'Postgres at postgres://aiproc@db.example:5432/aiproc');
    return store.close();
  });

  it('says "retry later", naming DATABASE_URL, when the server is not there', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const store = new SqlStore(pgDriver('postgres://postgres:pw@127.0.0.1:1/aiproc'));
    await assert.rejects(store.init(), (err: Error) => {
      assert.ok(err instanceof RetryLaterError, `got ${err.name}: ${err.message}`);
      assert.match(err.message, /DATABASE_URL \(postgres:\/\/postgres@127\.0\.0\.1:1\/aiproc\)/);
      assert.match(err.message, /ECONNREFUSED/);
      assert.doesNotMatch(err.message, /pw/);
      return true;
    });
    await assert.rejects(store.getJob('x'), RetryLaterError);
    await store.close();
  });

  it('says "retry later" when the server ends the connection (admin shutdown)', async () => {
    const driver = pgDriver(db.url, undefined, { max: 1 });
    await driver.query('select 1');
    const admin = await adminClient();
    try {
      await assert.rejects(
        driver.transaction(async (tx) => {
          const [me] = await tx.query<{ pid: number }>('select pg_backend_pid() as pid');
          await admin.query('select pg_terminate_backend($1)', [me!.pid]);
          await tx.query('select 1');
        }),
        RetryLaterError,
      );
      assert.deepEqual(await driver.query('select 1 as one'), [{ one: 1 }], 'the pool replaces the lost connection');
    } finally {
      await admin.end();
      await driver.close();
    }
  });
});

describe('Row Level Security on Postgres', () => {
  let rls: Awaited<ReturnType<typeof freshDatabase>>;
  let client: Awaited<ReturnType<typeof adminClient>>;
  let jobId: string;
  before(async () => {
    // Supabase's roles. Roles are cluster-wide: create them when missing, never drop them.
    client = await adminClient();
    for (const role of ['anon', 'authenticated', 'service_role']) {
      await client.query(`do $$ begin
          if not exists (select from pg_roles where rolname = '${role}') then
            create role ${role} nologin${role === 'service_role' ? ' bypassrls' : ''};
          end if;
        exception when duplicate_object or unique_violation then null;
        end $$`);
    }
    await client.end();
    // A database migrated after the roles exist, so the guarded grants and revokes apply.
    rls = await freshDatabase();
    const store = new SqlStore(pgDriver(rls.url));
    await store.init();
    const job = newJob();
    jobId = job.id;
    await store.createJob(job);
    await store.close();
    client = await adminClient(rls.url);
  });
  after(async () => {
    await client?.end();
    await rls?.drop();
  });

  it('is enabled on every aiproc table', async () => {
    const { rows } = await client.query(
      `select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'aiproc' and c.relkind = 'r' order by 1`,
    );
    assert.ok(rows.length >= 9);
    assert.deepEqual(rows.filter((r) => !r.relrowsecurity).map((r) => r.relname), []);
  });

  it('keeps anon and authenticated out of the schema, its tables and its functions', async () => {
    for (const role of ['anon', 'authenticated']) {
      for (const sql of ['select * from aiproc.jobs', 'select * from aiproc.training_examples', `select aiproc.cancel_job('${jobId}')`]) {
        await client.query('begin');
        try {
          await client.query(`set local role ${role}`);
          await assert.rejects(client.query(sql), { code: '42501' }, `${role}: ${sql}`);
        } finally {
          await client.query('rollback');
        }
      }
    }
  });

  it('shows anon no rows even when a grant slips through (no policy)', async () => {
    await client.query('begin');
    try {
      await client.query('grant usage on schema aiproc to anon; grant select on aiproc.jobs, aiproc.job_scores to anon');
      await client.query('set local role anon');
      assert.deepEqual((await client.query('select id from aiproc.jobs')).rows, []);
    } finally {
      await client.query('rollback');
    }
  });

  it('lets service_role read and call everything', async () => {
    await client.query('begin');
    try {
      await client.query('set local role service_role');
      assert.deepEqual((await client.query('select id from aiproc.jobs')).rows, [{ id: jobId }]);
      const { rows } = await client.query(`select aiproc.cancel_job(p_job_id => $1) as cancelled`, [jobId]);
      assert.deepEqual(rows, [{ cancelled: true }]);
    } finally {
      await client.query('rollback');
    }
  });
});
