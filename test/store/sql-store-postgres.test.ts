import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RetryLaterError } from '../../functions/lib/errors.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import { MIGRATIONS_DIR, migrate } from '../../functions/lib/store/migrate.ts';
import { pgDriver } from '../../functions/lib/store/pg-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { newJob, plannedJob, result, storeContract } from './contract.ts';
import { adminClient, ensureSupabaseRoles, freshDatabase } from './fresh-database.ts';

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

  it('does not re-run migrations that `supabase db push` applied', async () => {
    const fresh = await freshDatabase();
    const driver = pgDriver(fresh.url);
    try {
      // GIVEN a database the Supabase CLI migrated: its own history table, our files applied
      const files = (await readdir(MIGRATIONS_DIR)).filter((n) => n.endsWith('.sql')).sort();
      await driver.exec('create schema supabase_migrations; create table supabase_migrations.schema_migrations (version text primary key, name text)');
      for (const f of files) {
        await driver.exec(await readFile(join(MIGRATIONS_DIR, f), 'utf8'));
        await driver.query('insert into supabase_migrations.schema_migrations values ($1, $2)', [f.split('_')[0], f]);
      }
      // WHEN SqlStore starts on it THEN nothing runs twice (a re-run would fail: the tables exist)
      assert.deepEqual(await migrate(driver), []);
      const rows = await driver.query<{ name: string }>('select name from aiproc.schema_migrations order by name');
      assert.deepEqual(rows.map((r) => r.name), files);
    } finally {
      await driver.close();
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

/**
 * Holds row locks on a third connection while `fire` starts its calls, waits until `waiters`
 * backends queue on locks in this database, then lets them all go at once: a true race.
 */
async function startTogether<T>(lockSql: string, params: unknown[], waiters: number, fire: () => Promise<T>): Promise<T> {
  const gate = await adminClient(db.url);
  // Watched from outside the gate's transaction: inside one, pg_stat_activity is a frozen snapshot.
  const watch = await adminClient(db.url);
  try {
    await gate.query('begin');
    await gate.query(lockSql, params);
    const racing = fire();
    racing.catch(() => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await watch.query(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if (rows[0].n >= waiters) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of ${waiters} calls queued on the locks`);
      await new Promise((r) => setImmediate(r));
    }
    await gate.query('commit');
    return await racing;
  } finally {
    await gate.end();
    await watch.end();
  }
}

describe('SqlStore on Postgres under real contention', () => {
  let a: SqlStore;
  let b: SqlStore;
  before(async () => {
    a = new SqlStore(pgDriver(db.url));
    b = new SqlStore(pgDriver(db.url));
    await a.init();
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('sees the job complete exactly once when the last two parts are released together', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await plannedJob(a, 3);
      await a.recordPart(result(id, 0));
      // Locking the two parts makes both deliveries wait inside record_part, then race.
      const [x, y] = await startTogether(
        'select 1 from aiproc.parts where job_id = $1 and idx in (1, 2) for update', [id], 2,
        () => Promise.all([a.recordPart(result(id, 1)), b.recordPart(result(id, 2))]),
      );
      assert.ok(x.recorded && y.recorded);
      assert.equal([x, y].filter((r) => r.complete).length, 1, `round ${round}`);
    }
  });

  it('grants a claim released to two mergers at once to exactly one', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await plannedJob(a, 1);
      await a.recordPart(result(id, 0));
      const claims = await startTogether(
        'select 1 from aiproc.jobs where id = $1 for update', [id], 2,
        () => Promise.all([a.claimSynthesis(id, 'merger-a', 60), b.claimSynthesis(id, 'merger-b', 60)]),
      );
      assert.deepEqual(claims.sort(), ['busy', 'claimed'], `round ${round}`);
    }
  });
});

describe('Row Level Security on Postgres', () => {
  let rls: Awaited<ReturnType<typeof freshDatabase>>;
  let client: Awaited<ReturnType<typeof adminClient>>;
  let jobId: string;
  before(async () => {
    await ensureSupabaseRoles();
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

  it('grants every aiproc function to service_role only', async () => {
    const { rows } = await client.query(
      `select p.oid::regprocedure::text as fn,
              has_function_privilege('anon', p.oid, 'execute') as anon,
              has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
              has_function_privilege('service_role', p.oid, 'execute') as service
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'aiproc'`,
    );
    assert.ok(rows.length >= 16);
    assert.deepEqual(rows.filter((r) => r.anon || r.authenticated || !r.service).map((r) => r.fn), []);
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
