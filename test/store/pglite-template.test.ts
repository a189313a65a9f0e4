import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigError } from '../../functions/lib/errors.ts';
import type { SqlDriver } from '../../functions/lib/store/driver.ts';
import { PGLITE_SETTINGS } from '../../functions/lib/store/pglite-memory.ts';
import { pgliteDriver } from '../../functions/lib/store/pglite-driver.ts';
import {
  createFromTemplate,
  installedPgliteVersion,
  Manifest,
  MANIFEST_FILE,
  TEMPLATE_FILE,
  templateFit,
  templateTar,
} from '../../functions/lib/store/pglite-template.ts';

const tmp = mkdtempSync(join(tmpdir(), 'aiproc-pglite-template-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const shipped = Manifest.parse(JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')));

/** A logger whose warnings the test can read. */
function capturingLog() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

/** What identifies a database cluster and its catalog, from a driver. */
async function identity(driver: SqlDriver) {
  const [control] = await driver.query<{ catalog_version_no: number; system_identifier: bigint }>('select catalog_version_no, system_identifier from pg_control_system()');
  const [server] = await driver.query<{ server_version: string }>('show server_version');
  const [buffers] = await driver.query<{ shared_buffers: string }>('show shared_buffers');
  const databases = (await driver.query<{ datname: string }>('select datname from pg_database order by datname')).map((r) => r.datname);
  const [catalog] = await driver.query<{ relations: number; functions: number }>('select (select count(*)::int from pg_class) as relations, (select count(*)::int from pg_proc) as functions');
  return {
    systemIdentifier: String(control!.system_identifier),
    catalog: { version: Number(control!.catalog_version_no), server: server!.server_version, sharedBuffers: buffers!.shared_buffers, databases, ...catalog! },
  };
}

async function identityOf(driver: SqlDriver) {
  try {
    return await identity(driver);
  } finally {
    await driver.close();
  }
}

describe('the shipped PGlite database template', () => {
  it('fits the installed PGlite and the current settings, and is whole', () => {
    // GIVEN the template and its manifest as committed
    // WHEN it is checked against what is installed
    const fit = templateFit();
    // THEN it fits (after a PGlite upgrade or a settings change: npm run pglite:template)
    assert.ok(fit.fits, `${fit.fits ? '' : fit.why}: run npm run pglite:template and commit its two files`);
    assert.equal(shipped.pglite, installedPgliteVersion());
    assert.deepEqual(shipped.settings, PGLITE_SETTINGS);
    // AND its bytes are the ones the manifest names, and it unpacks to a data folder's tar
    const tar = templateTar(shipped);
    assert.equal(readFileSync(TEMPLATE_FILE).length, shipped.bytes);
    assert.ok(tar.length > 10 * 1024 * 1024, `a data folder's tar, not ${tar.length} bytes`);
  });

  it('holds the database initdb makes: same Postgres, catalog, databases and settings', async () => {
    // GIVEN one database in memory from the template, and one made by initdb (the template not used)
    const fromTemplate = await identityOf(pgliteDriver());
    const fromInitdb = await identityOf(pgliteDriver(undefined, { fit: { fits: false, why: 'this test runs initdb' } }));
    // THEN both are the same catalog with our settings (shared_buffers from pglite-memory.ts)
    assert.deepEqual(fromTemplate.catalog, fromInitdb.catalog);
    assert.equal(fromTemplate.catalog.sharedBuffers, '8MB');
    assert.deepEqual(fromTemplate.catalog.databases, ['postgres', 'template0', 'template1']);
    // AND the first is the template's cluster, the second a new one
    assert.equal(fromTemplate.systemIdentifier, shipped.systemIdentifier);
    assert.notEqual(fromInitdb.systemIdentifier, shipped.systemIdentifier);
  });

  it('a new data folder is unpacked from it, with no warning and nothing left beside it', async () => {
    // GIVEN a data folder that does not exist yet
    const dir = join(tmp, 'new', 'pglite');
    assert.equal(existsSync(join(dir, 'PG_VERSION')), false);
    const { log, warnings } = capturingLog();
    // WHEN a driver opens it, and a second one later
    const first = await identityOf(pgliteDriver(dir, { log }));
    assert.equal(existsSync(join(dir, 'PG_VERSION')), true);
    const again = await identityOf(pgliteDriver(dir, { log }));
    // THEN the database is the template's, kept across opens, and initdb never ran
    assert.equal(first.systemIdentifier, shipped.systemIdentifier);
    assert.deepEqual(again, first);
    assert.deepEqual(warnings(), []);
    assert.deepEqual(readdirSync(join(tmp, 'new')).sort(), ['pglite']);
  });

  it('an empty folder, or the staging folder of a start cut off half-way, is no obstacle', async () => {
    // GIVEN an empty data folder and a half-unpacked staging folder beside it
    const dir = join(tmp, 'interrupted', 'pglite');
    mkdirSync(dir, { recursive: true });
    mkdirSync(`${dir}.new/base`, { recursive: true });
    writeFileSync(`${dir}.new/base/half`, 'x');
    // WHEN a driver opens it
    const opened = await identityOf(pgliteDriver(dir));
    // THEN the database is the template's and the staging folder is gone
    assert.equal(opened.systemIdentifier, shipped.systemIdentifier);
    assert.equal(existsSync(`${dir}.new`), false);
  });

  it('a folder with files but no database is refused, naming AIPROC_DATA_DIR, and left as it was', () => {
    // GIVEN a folder holding someone's file and no PG_VERSION
    const dir = join(tmp, 'occupied', 'pglite');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    // WHEN a driver opens it THEN it is a ConfigError that says what to do, and the lock is released
    assert.throws(() => pgliteDriver(dir), (err: Error) => err instanceof ConfigError && /AIPROC_DATA_DIR.*not empty.*no database/.test(err.message));
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
    assert.equal(existsSync(`${dir}.lock`), false);
  });

  it('a damaged template does not fit, is refused with both hashes, and leaves no folder', async () => {
    // GIVEN a copy of the template with one byte changed, beside a copy of its manifest
    const folder = join(tmp, 'damaged');
    mkdirSync(folder);
    const damaged = join(folder, 'pglite-template.tar.br');
    const bytes = readFileSync(TEMPLATE_FILE);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(damaged, bytes);
    writeFileSync(join(folder, 'pglite-template.json'), readFileSync(MANIFEST_FILE));
    // WHEN it is checked THEN it does not fit, and the reason names the file and both hashes
    const fit = templateFit(join(folder, 'pglite-template.json'));
    const why = fit.fits ? '' : fit.why;
    assert.ok(why.includes(damaged) && why.includes(shipped.sha256) && /damaged/.test(why), why);
    // AND making a folder from it anyway fails the same way and leaves nothing behind
    const dir = join(tmp, 'from-damaged', 'pglite');
    await assert.rejects(createFromTemplate(dir, shipped, damaged), (err: Error) => err.message === why);
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(`${dir}.new`), false);
  });

  it('without a template that fits, initdb makes the database and a warning says why', async () => {
    // GIVEN a manifest from another PGlite release
    const other = join(tmp, 'other.json');
    writeFileSync(other, JSON.stringify({ ...shipped, pglite: '0.0.1' }));
    const fit = templateFit(other);
    assert.equal(fit.fits, false);
    assert.match(fit.fits ? '' : fit.why, /made by PGlite 0\.0\.1, the installed one is \d/);
    const dir = join(tmp, 'initdb', 'pglite');
    const { log, warnings } = capturingLog();
    // WHEN a driver opens a new folder with it
    const opened = await identityOf(pgliteDriver(dir, { log, fit }));
    // THEN initdb made a new cluster, and the one warning names the cause and the remedy
    assert.notEqual(opened.systemIdentifier, shipped.systemIdentifier);
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!, /initdb.*PGlite 0\.0\.1.*npm run pglite:template/);
    // AND a manifest with other settings, or none, does not fit either
    writeFileSync(other, JSON.stringify({ ...shipped, settings: ['shared_buffers=128MB'] }));
    assert.match(String((templateFit(other) as { why: string }).why), /made with shared_buffers=128MB, the settings are now shared_buffers=8MB/);
    assert.match(String((templateFit(join(tmp, 'none.json')) as { why: string }).why), /no database template/);
    writeFileSync(other, '{"pglite": ');
    assert.match(String((templateFit(other) as { why: string }).why), /manifest .* is not JSON/);
  });

  it('npm run pglite:template makes a template that fits and opens', async () => {
    // GIVEN the script run into a folder of its own
    const out = join(tmp, 'made');
    execFileSync(process.execPath, ['--liftoff-only', 'scripts/pglite-template.ts', out], { stdio: 'pipe' });
    // WHEN its manifest is checked and a folder is made from it
    const manifestFile = join(out, 'pglite-template.json');
    const fit = templateFit(manifestFile);
    assert.ok(fit.fits, fit.fits ? '' : fit.why);
    const dir = join(tmp, 'from-made', 'pglite');
    await createFromTemplate(dir, fit.manifest, join(out, 'pglite-template.tar.br'));
    // THEN it holds a new cluster of the same catalog as the shipped one
    const opened = await identityOf(pgliteDriver(dir));
    assert.equal(opened.systemIdentifier, fit.manifest.systemIdentifier);
    assert.notEqual(fit.manifest.systemIdentifier, shipped.systemIdentifier);
    assert.equal(fit.manifest.catalogVersion, shipped.catalogVersion);
  });
});
