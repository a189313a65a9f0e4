import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { brotliDecompressSync, createBrotliDecompress } from 'node:zlib';
import { z } from 'zod';
import { extract } from 'tar';
import { ConfigError } from '../errors.ts';
import { PGLITE_SETTINGS } from './pglite-memory.ts';

/**
 * The database every embedded store starts from: the data folder exactly as PGlite's initdb makes
 * it (with the settings of pglite-memory.ts), made once by `npm run pglite:template` and shipped
 * as a brotli-compressed tar (about 1.5 MB). A first start unpacks it instead of running initdb,
 * which holds about 250 MB more while it runs (two PGlite instances, a copy of the 128 MB
 * WebAssembly heap and a tar of the result; docs/embedded-engine.md: Memory) and takes seconds.
 *
 * The template is Postgres's on-disk format, so it fits only the PGlite release that made it
 * (and the settings initdb wrote into its postgresql.conf): `templateFit()` says whether it fits
 * the installed one, and a store that finds it does not runs initdb as before and says why.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
export const TEMPLATE_FILE = join(HERE, 'pglite-template.tar.br');
export const MANIFEST_FILE = join(HERE, 'pglite-template.json');

export const Manifest = z.object({
  /** The @electric-sql/pglite version whose initdb made it. */
  pglite: z.string(),
  /** `show server_version` and `pg_control_system()` of the database it holds. */
  postgres: z.string(),
  catalogVersion: z.number().int(),
  systemIdentifier: z.string(),
  /** The settings initdb ran with (PGLITE_SETTINGS then). */
  settings: z.array(z.string()),
  /** The compressed file: its size and sha256. */
  bytes: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Manifest = z.infer<typeof Manifest>;

/**
 * The installed @electric-sql/pglite's version (its package.json is not in its exports map, so it
 * is read beside the resolved entry point).
 * @example installedPgliteVersion() // '0.5.16'
 */
export function installedPgliteVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the version of @electric-sql/pglite');
    dir = up;
  }
}

/** Whether the shipped template can be used, and if not, why (one line). */
export type TemplateFit = { fits: true; manifest: Manifest } | { fits: false; why: string };

/**
 * Whether the template (by default the shipped one) fits the installed PGlite and the current
 * settings, and is whole (its size and sha256 as the manifest says; the template file is the one
 * beside the manifest).
 * @example const fit = templateFit(); if (!fit.fits) log.warn(fit.why)
 */
export function templateFit(manifestFile = MANIFEST_FILE): TemplateFit {
  if (!existsSync(manifestFile)) return { fits: false, why: `no database template at ${manifestFile}` };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (err) {
    return { fits: false, why: `the database template's manifest ${manifestFile} is not JSON: ${(err as Error).message}` };
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) return { fits: false, why: `the database template's manifest ${manifestFile} is not valid: ${parsed.error.issues[0]?.message}` };
  const manifest = parsed.data;
  const installed = installedPgliteVersion();
  if (manifest.pglite !== installed) return { fits: false, why: `the database template was made by PGlite ${manifest.pglite}, the installed one is ${installed}` };
  if (manifest.settings.join(' ') !== PGLITE_SETTINGS.join(' ')) {
    return { fits: false, why: `the database template was made with ${manifest.settings.join(' ')}, the settings are now ${PGLITE_SETTINGS.join(' ')}` };
  }
  const file = join(dirname(manifestFile), basename(TEMPLATE_FILE));
  const damage = damaged(manifest, file);
  if (damage) return { fits: false, why: damage };
  return { fits: true, manifest };
}

/** Why `file` is not the template the manifest describes (missing, other size or hash), if it is not. */
function damaged(manifest: Manifest, file: string): string | undefined {
  if (!existsSync(file)) return `the database template ${file} is missing`;
  const packed = readFileSync(file);
  const sha256 = createHash('sha256').update(packed).digest('hex');
  if (packed.length === manifest.bytes && sha256 === manifest.sha256) return undefined;
  return `the database template ${file} is damaged: ${packed.length} bytes, sha256 ${sha256}; its manifest says ${manifest.bytes} bytes, sha256 ${manifest.sha256}`;
}

/**
 * The template's tar (uncompressed), checked against the manifest's size and hash.
 * @example new PGlite({ loadDataDir: new Blob([templateTar(manifest)]) })
 */
export function templateTar(manifest: Manifest, file = TEMPLATE_FILE): Buffer {
  const damage = damaged(manifest, file);
  if (damage) throw new Error(damage);
  return brotliDecompressSync(readFileSync(file));
}

/**
 * The refusal for a folder that holds files but no database (no PG_VERSION), if `dir` is one:
 * neither the template nor initdb should be mixed into someone's files.
 * @example const refusal = strayFiles(dir); if (refusal) throw refusal
 */
export function strayFiles(dir: string): ConfigError | undefined {
  if (!existsSync(dir) || existsSync(join(dir, 'PG_VERSION')) || readdirSync(dir).length === 0) return undefined;
  return new ConfigError(`AIPROC_DATA_DIR: ${dir} is not empty but holds no database (no PG_VERSION): move it away or give aiproc another AIPROC_DATA_DIR`);
}

/**
 * Creates the data folder `dir` from the template, streamed (never the whole 39 MB tar in
 * memory): unpacked into a sibling folder first, then renamed into place, so that a start cut off
 * half-way leaves no half database (the next start finds no PG_VERSION and unpacks again). `dir`
 * must not hold a database or other files; an empty folder is fine.
 * @example if (!existsSync(join(dir, 'PG_VERSION'))) await createFromTemplate(dir, fit.manifest)
 */
export async function createFromTemplate(dir: string, manifest: Manifest, file = TEMPLATE_FILE): Promise<void> {
  const damage = damaged(manifest, file);
  if (damage) throw new Error(damage);
  const refusal = strayFiles(dir);
  if (refusal) throw refusal;
  const staging = `${dir}.new`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  try {
    // The tar's names start with '/' (PGlite dumps PGDATA from its root): tar strips that, with a
    // note (TAR_ENTRY_INFO); anything else it warns of means the archive is not what it should be.
    // PGlite's own loader does not restore owners or times either.
    const problems: string[] = [];
    const onwarn = (code: string, message: string | Error) => {
      if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${message instanceof Error ? message.message : message}`);
    };
    await pipeline(createReadStream(file), createBrotliDecompress(), extract({ cwd: staging, noMtime: true, preserveOwner: false, onwarn }));
    if (problems.length) throw new Error(`the database template ${file} could not be unpacked: ${problems.join('; ')}`);
    if (!existsSync(join(staging, 'PG_VERSION'))) throw new Error(`the database template ${file} holds no PG_VERSION`);
    if (existsSync(dir)) rmdirSync(dir);
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
