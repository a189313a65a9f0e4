import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';
import type { Logger } from '../log.ts';
import { toStoreError } from './db-errors.ts';
import type { Queryable, Row, SqlDriver } from './driver.ts';
import { lockFolder } from './folder-lock.ts';
import { pgliteOptions } from './pglite-memory.ts';
import { createFromTemplate, strayFiles, templateFit, templateTar, type TemplateFit } from './pglite-template.ts';

/**
 * PGlite (Postgres in WebAssembly, in this process) behind the SqlDriver interface. It serves
 * one connection: PGlite's own mutex queues queries and holds them while a transaction runs.
 * `dir` undefined keeps the database in memory (tests). A folder is locked to one process
 * (folder-lock.ts): a second process gets a ConfigError instead of a corrupted database.
 * Opening starts at once and queries wait for it, so construction stays synchronous (a folder
 * that is locked, or holds other files, is refused at once).
 * A new database comes from the shipped template (pglite-template.ts) when it fits the installed
 * PGlite, else from initdb, with a warning that says why (`opts.log`); a folder made by initdb is
 * then opened once more, so the instance that ran it is not the one that serves.
 * @example const driver = pgliteDriver(join(settings.AIPROC_DATA_DIR, 'pglite'))
 */
export function pgliteDriver(dir?: string, opts: { log?: Logger; fit?: TemplateFit } = {}): SqlDriver {
  const target = `PGlite (${dir ?? 'in memory'})`;
  const fail = (err: unknown): never => {
    throw toStoreError(err, target);
  };
  if (dir) mkdirSync(dirname(dir), { recursive: true });
  const release = dir ? lockFolder(dir) : () => {};
  const refusal = dir ? strayFiles(dir) : undefined;
  if (refusal) {
    release();
    throw refusal;
  }
  const opening = open(dir, opts);
  // A failed open rejects every query with the same error; this only keeps it from being unhandled.
  opening.catch(() => {});
  const ready = () => opening.catch(fail);
  const on = (c: PGlite | Transaction): Queryable => ({
    query: async <T extends Row>(text: string, params?: unknown[]) => (await c.query<T>(text, params).catch(fail)).rows,
    exec: async (text: string) => {
      await c.exec(text).catch(fail);
    },
  });
  return {
    description: `PGlite at ${dir ?? '(memory)'}`,
    query: async (text, params) => on(await ready()).query(text, params),
    exec: async (text) => on(await ready()).exec(text),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => (await ready()).transaction((tx) => fn(on(tx))).catch(fail),
    async close() {
      try {
        const db = await opening.catch(() => undefined);
        if (db && !db.closed) await db.close();
      } finally {
        release();
      }
    },
  };
}

/** The database in `dir` (or memory), from the template, initdb or what is there; once ready. */
async function open(dir: string | undefined, opts: { log?: Logger; fit?: TemplateFit }): Promise<PGlite> {
  const options: PGliteOptions = pgliteOptions();
  let initdb = false;
  if (!(dir && existsSync(join(dir, 'PG_VERSION')))) {
    let fit = opts.fit ?? templateFit();
    if (fit.fits) {
      try {
        if (dir) await createFromTemplate(dir, fit.manifest);
        else options.loadDataDir = new Blob([templateTar(fit.manifest) as Uint8Array<ArrayBuffer>]);
      } catch (err) {
        fit = { fits: false, why: (err as Error).message };
      }
    }
    if (!fit.fits) opts.log?.warn(`creating the database with initdb (a few seconds, about 500 MB while it runs): ${fit.why}; npm run pglite:template makes a template that fits`);
    initdb = !fit.fits;
  }
  if (dir) mkdirSync(dir, { recursive: true });
  const start = async () => {
    // Not `new PGlite(undefined, options)`: without a folder PGlite reads its first argument as the
    // options and drops the second (so in-memory stores once ran with none of these settings).
    const db = dir ? new PGlite(dir, options) : new PGlite(options);
    await db.waitReady;
    return db;
  };
  const db = await start();
  if (!(dir && initdb)) return db;
  // initdb grows PGlite's WebAssembly memory by ~250 MB (bench:memory), and WebAssembly memory
  // never shrinks: serve from a fresh instance, and collect the old one now (npm start runs with
  // --expose-gc) rather than whenever V8 idles. Two collections, a turn apart: the first
  // finalises the old instance, the second frees its memory.
  await db.close();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  gc?.();
  return start();
}
