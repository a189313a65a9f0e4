import { join } from 'node:path';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log.ts';
import { pgDriver, redactUrl } from './pg-driver.ts';
import { pgliteDriver } from './pglite-driver.ts';
import { SqlStore } from './sql-store.ts';
import { SupabaseStore } from './supabase-store.ts';
import type { Store } from './types.ts';

export type { Store } from './types.ts';

/** A store that can say, in one line and without secrets, what it is connected to. */
export type DescribedStore = Store & { describe(): string };

type StoreSettings = Pick<Settings, 'SUPABASE_URL' | 'SUPABASE_SERVICE_ROLE_KEY' | 'DATABASE_URL' | 'AIPROC_DATA_DIR'>;

/**
 * The store the settings ask for: Supabase (SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY), else
 * Postgres (DATABASE_URL), else PGlite in `<AIPROC_DATA_DIR>/pglite`. Nothing connects until
 * `init()`.
 * @example const store = createStore(settings, log); await store.init(); log.info(store.describe())
 */
export function createStore(settings: StoreSettings, log?: Logger): DescribedStore {
  if (settings.SUPABASE_URL && settings.SUPABASE_SERVICE_ROLE_KEY) {
    return new SupabaseStore({ url: settings.SUPABASE_URL, serviceRoleKey: settings.SUPABASE_SERVICE_ROLE_KEY, log });
  }
  if (settings.DATABASE_URL) return new SqlStore(pgDriver(settings.DATABASE_URL, log), log);
  return new SqlStore(pgliteDriver(join(settings.AIPROC_DATA_DIR, 'pglite'), { ...(log && { log }) }), log);
}

/**
 * The same one line as `createStore(settings).describe()`, without creating anything.
 * @example describeStore({ DATABASE_URL: 'postgres://u:pw@db/aiproc' }) // 'Postgres at postgres://u@db/aiproc'
 */
export function describeStore(settings: StoreSettings): string {
  if (settings.SUPABASE_URL && settings.SUPABASE_SERVICE_ROLE_KEY) return `Supabase at ${settings.SUPABASE_URL} (service role)`;
  if (settings.DATABASE_URL) return `Postgres at ${redactUrl(settings.DATABASE_URL)}`;
  return `PGlite at ${join(settings.AIPROC_DATA_DIR, 'pglite')}`;
}
