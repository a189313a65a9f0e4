import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { toStoreError } from './db-errors.ts';
import type { Queryable, Row, SqlDriver } from './driver.ts';
import { lockFolder } from './folder-lock.ts';
import { pgliteOptions } from './pglite-memory.ts';

/**
 * PGlite (Postgres in WebAssembly, in this process) behind the SqlDriver interface. It serves
 * one connection: PGlite's own mutex queues queries and holds them while a transaction runs.
 * `dir` undefined keeps the database in memory (tests). A folder is locked to one process
 * (folder-lock.ts): a second process gets a ConfigError instead of a corrupted database.
 * Opening starts at once and queries wait for it, so construction stays synchronous.
 * @example const driver = pgliteDriver(join(settings.AIPROC_DATA_DIR, 'pglite'))
 */
export function pgliteDriver(dir?: string): SqlDriver {
  const target = `PGlite (${dir ?? 'in memory'})`;
  const fail = (err: unknown): never => {
    throw toStoreError(err, target);
  };
  if (dir) mkdirSync(dir, { recursive: true });
  const release = dir ? lockFolder(dir) : () => {};
  // Not `new PGlite(undefined, options)`: without a folder PGlite reads its first argument as the
  // options and drops the second (so in-memory stores once ran with none of these settings).
  const db = dir ? new PGlite(dir, pgliteOptions()) : new PGlite(pgliteOptions());
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
