import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Queryable, SqlDriver } from './driver.ts';

/** supabase/migrations at the repository root: the same files `supabase db push` applies. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../supabase/migrations/', import.meta.url));

/**
 * Any constant shared by every aiproc process: they queue on it while one migrates. The
 * Kubernetes migration Job (charts/supabase.ts) takes the same key and records in the same
 * aiproc.schema_migrations table: change them together.
 */
const LOCK_KEY = 7_306_930_001;

/**
 * Applies `dir/*.sql` in name order, each once, recorded in aiproc.schema_migrations (files the
 * Supabase CLI already pushed to this database are recorded, not re-run). Everything
 * runs in one transaction under a transaction-scoped advisory lock, so processes starting
 * together wait for the first and then find nothing left to do; a failing file applies nothing.
 * Returns the names applied now.
 * @example await migrate(driver) // ['20261125081000_aiproc_schema.sql', …] the first time, [] after
 */
export async function migrate(driver: SqlDriver, dir: string = MIGRATIONS_DIR): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return driver.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${LOCK_KEY})`);
    await tx.exec(`
      create schema if not exists aiproc;
      create table if not exists aiproc.schema_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      );
      alter table aiproc.schema_migrations enable row level security;`);
    const rows = await tx.query<{ name: string }>('select name from aiproc.schema_migrations');
    const done = new Set(rows.map((r) => r.name));
    const pushed = await pushedBySupabaseCli(tx);
    const applied: string[] = [];
    for (const name of names) {
      if (done.has(name)) continue;
      if (pushed.has(name.split('_')[0]!)) {
        // `supabase db push` applied it already: record it, do not run it twice.
        await tx.query('insert into aiproc.schema_migrations (name) values ($1)', [name]);
        continue;
      }
      const sql = await readFile(`${dir}/${name}`, 'utf8');
      try {
        await tx.exec(sql);
      } catch (err) {
        throw Object.assign(err instanceof Error ? err : new Error(String(err)), {
          message: `migration ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
      await tx.query('insert into aiproc.schema_migrations (name) values ($1)', [name]);
      applied.push(name);
    }
    return applied;
  });
}

/** Versions the Supabase CLI recorded (supabase_migrations.schema_migrations), when that table exists. */
async function pushedBySupabaseCli(tx: Queryable): Promise<Set<string>> {
  const [exists] = await tx.query<{ t: string | null }>("select to_regclass('supabase_migrations.schema_migrations')::text as t");
  if (!exists?.t) return new Set();
  const rows = await tx.query<{ version: string }>('select version from supabase_migrations.schema_migrations');
  return new Set(rows.map((r) => String(r.version)));
}
