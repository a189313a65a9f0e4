/**
 * `npm run pglite:template`: makes the database template the embedded store starts from
 * (functions/lib/store/pglite-template.ts): PGlite's initdb with the settings of pglite-memory.ts,
 * a checkpoint, the data folder dumped as a tar and compressed with brotli, and the manifest
 * beside it (PGlite and Postgres versions, catalog version, system identifier, settings, size,
 * sha256). Run it after changing @electric-sql/pglite or PGLITE_SETTINGS; the tests fail until then.
 *
 * Usage: `node scripts/pglite-template.ts [output folder]` (default functions/lib/store/; the tests
 * write a copy elsewhere). Uses about 500 MB for a few seconds (initdb).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions, PGLITE_SETTINGS } from '../functions/lib/store/pglite-memory.ts';
import { installedPgliteVersion, MANIFEST_FILE, TEMPLATE_FILE, type Manifest } from '../functions/lib/store/pglite-template.ts';

const out = process.argv[2] ? resolve(process.argv[2]) : undefined;
const templateFile = out ? join(out, basename(TEMPLATE_FILE)) : TEMPLATE_FILE;
const manifestFile = out ? join(out, basename(MANIFEST_FILE)) : MANIFEST_FILE;

const version = installedPgliteVersion();
console.log(`pglite:template: initdb with PGlite ${version} (${PGLITE_SETTINGS.join(' ')})…`);
const db = new PGlite(pgliteOptions());
try {
  await db.waitReady;
  const [server] = (await db.query<{ server_version: string }>('show server_version')).rows;
  const [control] = (await db.query<{ catalog_version_no: number; system_identifier: bigint | string }>('select catalog_version_no, system_identifier from pg_control_system()')).rows;
  // Everything initdb wrote is in the data files: starting from the template replays no WAL.
  await db.exec('CHECKPOINT');
  const tar = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
  // A 16 MB window lets brotli see the three databases (template0, template1, postgres) as one:
  // about 1.5 MB instead of gzip's 4.5 MB, in a second or two (quality 11 saves 0.2 MB and takes half a minute).
  const packed = brotliCompressSync(tar, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tar.length },
  });
  const manifest: Manifest = {
    pglite: version,
    postgres: server!.server_version,
    catalogVersion: Number(control!.catalog_version_no),
    systemIdentifier: String(control!.system_identifier),
    settings: PGLITE_SETTINGS,
    bytes: packed.length,
    sha256: createHash('sha256').update(packed).digest('hex'),
  };
  if (out) mkdirSync(out, { recursive: true });
  writeFileSync(templateFile, packed);
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`pglite:template: ${templateFile} (${(packed.length / 1024 / 1024).toFixed(1)} MB from a ${(tar.length / 1024 / 1024).toFixed(0)} MB data folder), ${manifestFile}`);
} finally {
  await db.close();
}
