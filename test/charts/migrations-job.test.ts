import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { migrate } from '../../functions/lib/store/migrate.ts';
import { pgDriver } from '../../functions/lib/store/pg-driver.ts';
import { adminClient, freshDatabase } from '../store/fresh-database.ts';
import { configWith, synthAll } from './support.ts';

// The Job and ConfigMap exactly as synthesised.
const objects = synthAll(configWith());
const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('supabase-migrate-'))!;
const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('supabase-migrations-'))!;
const script: string = job.spec.template.spec.containers[0].command[2];

const dir = mkdtempSync(join(tmpdir(), 'aiproc-migrations-'));
const db = await freshDatabase();
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

// Supabase's image has PostgREST's login role; a plain Postgres gets it here (server-wide, harmless).
const admin = await adminClient();
await admin.query(`do $$ begin if not exists (select from pg_roles where rolname = 'authenticator') then create role authenticator noinherit; end if; end $$`);
await admin.end();

/** Runs the Job's script with psql against the test database, the migrations in `folder`. */
function runJob(folder: string) {
  const url = new URL(db.url);
  return spawnSync('sh', ['-c', script.replaceAll('/migrations/', `${folder}/`)], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password) || 'unused',
      PGDATABASE: db.name,
    },
  });
}

describe('the migrations Job', () => {
  const folder = join(dir, 'good');
  spawnSync('mkdir', ['-p', folder]);
  for (const [name, sql] of Object.entries(configMap.data ?? {})) writeFileSync(join(folder, name), sql);

  it('applies every migration once and records it where the store migrator looks', async () => {
    assert.ok(Object.keys(configMap.data ?? {}).length > 0, 'the ConfigMap carries supabase/migrations/*.sql');
    // GIVEN a fresh database
    // WHEN the Job runs twice
    const first = runJob(folder);
    const second = runJob(folder);
    // THEN both succeed, the second applying nothing
    assert.equal(first.status, 0, first.stderr);
    assert.equal(second.status, 0, second.stderr);
    for (const name of Object.keys(configMap.data!)) {
      assert.match(first.stdout, new RegExp(`applying: ${name}`));
      assert.match(second.stdout, new RegExp(`already applied: ${name}`));
    }
    // AND the functions' own migrator (DATABASE_URL) finds nothing left to do
    const driver = pgDriver(db.url);
    try {
      assert.deepEqual(await migrate(driver), []);
    } finally {
      await driver.close();
    }
  });

  it('stops at a failing migration, applying none of it', async () => {
    // GIVEN a migration that creates a table and then fails
    const bad = join(dir, 'bad');
    spawnSync('mkdir', ['-p', bad]);
    writeFileSync(join(bad, '29991231000000_broken.sql'), 'create table aiproc.half_done (x int);\nselect 1/0;\n');
    // WHEN the Job runs it
    const r = runJob(bad);
    // THEN it fails, and neither the table nor a record of the file exists
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /division by zero/);
    const driver = pgDriver(db.url);
    try {
      assert.deepEqual(await driver.query(`select 1 from pg_tables where schemaname = 'aiproc' and tablename = 'half_done'`), []);
      assert.deepEqual(await driver.query(`select 1 from aiproc.schema_migrations where name = '29991231000000_broken.sql'`), []);
    } finally {
      await driver.close();
    }
  });
});
