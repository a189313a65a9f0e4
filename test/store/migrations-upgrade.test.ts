import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate, MIGRATIONS_DIR } from '../../functions/lib/store/migrate.ts';
import { pgliteDriver } from '../../functions/lib/store/pglite-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { newJob } from './fixtures.ts';

// A database made by an older aiproc (the four first migrations) takes the later ones in place.
test('a database with the first schema takes the later migrations; its old jobs are kept, as principal "unknown"', async () => {
  const old = mkdtempSync(join(tmpdir(), 'aiproc-migrations-'));
  const names = readdirSync(MIGRATIONS_DIR).filter((n) => n.endsWith('.sql')).sort();
  for (const n of names.filter((x) => x < '20261126')) copyFileSync(join(MIGRATIONS_DIR, n), join(old, n));
  const driver = pgliteDriver();
  try {
    assert.equal((await migrate(driver, old)).length, 4);
    await driver.query(`select aiproc.create_job(p_id => 'old-job', p_model => 'aiproc', p_messages => '[]'::jsonb, p_owner => 'x', p_stream => false, p_meta => '{}'::jsonb)`);
    const later = await migrate(driver);
    assert.deepEqual(later, names.filter((x) => x >= '20261126'));
    const store = new SqlStore(driver);
    assert.equal((await store.getJob('old-job'))?.principal, 'unknown');
    const job = newJob({ principal: { id: 'user:alice', role: 'user' } });
    await store.createJob(job);
    assert.equal((await store.getJob(job.id))?.principal, 'user:alice');
  } finally {
    await driver.close();
    rmSync(old, { recursive: true, force: true });
  }
});
