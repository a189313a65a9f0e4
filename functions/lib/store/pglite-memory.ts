import { PGlite, type PGliteOptions } from '@electric-sql/pglite';

/**
 * Postgres's memory settings for the embedded store: a small single-user database, so 8 MB of
 * shared buffers instead of initdb's 128 MB, and small work areas. initdb also writes them into
 * postgresql.conf, so a data folder made here keeps them; so does the shipped database template
 * (pglite-template.ts), which must be made again when they change (a test says so).
 */
export const PGLITE_SETTINGS = ['shared_buffers=8MB', 'maintenance_work_mem=8MB', 'work_mem=2MB'];

/**
 * How PGlite starts in this process: its default start parameters plus the settings above, for
 * the server and for initdb. Measured with `npm run bench:memory` (docs/embedded-engine.md: Memory).
 * @example const db = new PGlite(dir, pgliteOptions())
 */
export function pgliteOptions(): PGliteOptions {
  const c = PGLITE_SETTINGS.flatMap((s) => ['-c', s]);
  return { startParams: [...PGlite.defaultStartParams, ...c], initDbStartParams: c };
}
