import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { toStoreError } from './db-errors.ts';
import type { Queryable, Row, SqlDriver } from './driver.ts';
import { lockFolder } from './folder-lock.ts';
import { pgliteOptions } from './pglite-memory.ts';
import { createFromTemplate, templateFit, templateTar, type TemplateFit } from './pglite-template.ts';

/** How opening a PGlite folder (or memory) gets its database. */
export type Creation = 'exists' | 'template' | 'initdb';

/**
 * What opening `dir` will do: use the database there, unpack the shipped template (when it fits
 * the installed PGlite and is whole), or run initdb (about 250 MB more while it runs;
 * docs/embedded-engine.md: Memory). The template is checked only when there is no database.
 * @example if (pgliteCreation(dir) === 'initdb') log.warn('creating the database takes a while')
 */
export function pgliteCreation(dir: string | undefined, fit: () => TemplateFit = templateFit): Creation {
  if (dir && existsSync(join(dir, 'PG_VERSION'))) return 'exists';
  return fit().fits ? 'template' : 'initdb';
}

/**
 * PGlite (Postgres in WebAssembly, in this process) behind the SqlDriver interface. It serves
 * one connection: PGlite's own mutex queues queries and holds them while a transaction runs.
 * `dir` undefined keeps the database in memory (tests). A folder is locked to one process
 * (folder-lock.ts): a second process gets a ConfigError instead of a corrupted database.
 * Opening starts at once and queries wait for it, so construction stays synchronous.
 * A new database comes from the shipped template (pglite-template.ts) when it fits the installed
 * PGlite, else from initdb, with a warning that says why (`opts.log`).
 * @example const driver = pgliteDriver(join(settings.AIPROC_DATA_DIR, 'pglite'))
 */
export function pgliteDriver(dir?: string, opts: { log?: Logger; fit?: TemplateFit } = {}): SqlDriver {
  const target = `PGlite (${dir ?? 'in memory'})`;
  const fail = (err: unknown): never => {
    throw toStoreError(err, target);
  };
  if (dir) mkdirSync(dirname(dir), { recursive: true });
  const release = dir ? lockFolder(dir) : () => {};
  const options: PGliteOptions = pgliteOptions();
  if (!(dir && existsSync(join(dir, 'PG_VERSION')))) {
    let fit = opts.fit ?? templateFit();
    if (fit.fits) {
      try {
        if (dir) createFromTemplate(dir, fit.manifest);
        else options.loadDataDir = new Blob([templateTar(fit.manifest) as Uint8Array<ArrayBuffer>]);
      } catch (err) {
        if (err instanceof ConfigError) {
          release();
          throw err;
        }
        fit = { fits: false, why: (err as Error).message };
      }
    }
    if (!fit.fits) opts.log?.warn(`creating the database with initdb (a few seconds, about 500 MB while it runs): ${fit.why}; npm run pglite:template makes a template that fits`);
  }
  if (dir) mkdirSync(dir, { recursive: true });
  // Not `new PGlite(undefined, options)`: without a folder PGlite reads its first argument as the
  // options and drops the second (so in-memory stores once ran with none of these settings).
  const db = dir ? new PGlite(dir, options) : new PGlite(options);
  // A failed open also rejects every query with the same error; this only keeps it from being unhandled.
  db.waitReady.catch(() => {});
  const on = (c: PGlite | Transaction): Queryable => ({
    query: async <T extends Row>(text: string, params?: unknown[]) => (await c.query<T>(text, params).catch(fail)).rows,
    exec: async (text: string) => {
      await c.exec(text).catch(fail);
    },
  });
  return {
    description: `PGlite at ${dir ?? '(memory)'}`,
    ...on(db),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => db.transaction((tx) => fn(on(tx))).catch(fail),
    async close() {
      try {
        if (!db.closed) await db.close();
      } finally {
        release();
      }
    },
  };
}
