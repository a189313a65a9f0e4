import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../functions/lib/errors.ts';
import { createStore } from '../../functions/lib/store/index.ts';
import { migrate } from '../../functions/lib/store/migrate.ts';
import { pgliteDriver } from '../../functions/lib/store/pglite-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'aiproc-pglite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SqlStore on PGlite', { open: async () => new SqlStore(pgliteDriver(join(dir, 'pglite'))), concurrent: false });

describe('SqlStore on PGlite', () => {
  it('is what createStore picks without DATABASE_URL or Supabase, in <AIPROC_DATA_DIR>/pglite', async () => {
    // GIVEN the folder the contract above filled (and closed), and a lock left by a process that is gone
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, 'pglite.lock'), String(gone));
    const store = createStore({ AIPROC_DATA_DIR: dir, DATABASE_URL: undefined, SUPABASE_URL: undefined, SUPABASE_SERVICE_ROLE_KEY: undefined });
    assert.equal(store.describe(), `PGlite at ${join(dir, 'pglite')}`);
    await store.init();
    assert.ok((await store.listJobs(1)).length === 1, 'the jobs of the earlier store are there');
    await store.close();
    assert.equal(existsSync(join(dir, 'pglite.lock')), false, 'closing releases the folder');
  });

  it('refuses a folder another live process holds, naming AIPROC_DATA_DIR', () => {
    const folder = join(dir, 'held');
    writeFileSync(`${folder}.lock`, String(process.ppid));
    assert.throws(() => pgliteDriver(folder), (err: Error) => err instanceof ConfigError && /AIPROC_DATA_DIR.*in use.*pid/.test(err.message));
  });

  it('applies each migration once', async () => {
    const driver = pgliteDriver(join(dir, 'pglite'));
    try {
      assert.deepEqual(await migrate(driver), []);
      const rows = await driver.query<{ name: string }>('select name from aiproc.schema_migrations order by name');
      assert.ok(rows.length >= 4);
      assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
    } finally {
      await driver.close();
    }
  });
});
