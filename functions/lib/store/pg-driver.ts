import pg from 'pg';
import type { Logger } from '../log.ts';
import { toStoreError } from './db-errors.ts';
import type { Queryable, Row, SqlDriver } from './driver.ts';

/**
 * The database URL without its password, for messages.
 * @example redactUrl('postgres://u:secret@db:5432/x') // 'postgres://u@db:5432/x'
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * A node-postgres pool behind the SqlDriver interface.
 * @example const driver = pgDriver(process.env.DATABASE_URL!, log)
 */
export function pgDriver(url: string, log?: Logger, options: { max?: number } = {}): SqlDriver {
  const target = `DATABASE_URL (${redactUrl(url)})`;
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 10_000 });
  // An idle client whose server went away emits here; without a listener the process would crash.
  pool.on('error', (err) => log?.warn({ err: err.message }, 'idle database connection lost'));
  const fail = (err: unknown): never => {
    throw toStoreError(err, target);
  };
  const on = (c: pg.Pool | pg.PoolClient): Queryable => ({
    query: async <T extends Row>(text: string, params?: unknown[]) =>
      (await c.query(text, params as unknown[]).catch(fail)).rows as T[],
    exec: async (text: string) => {
      await c.query(text).catch(fail);
    },
  });
  return {
    description: `Postgres at ${redactUrl(url)}`,
    ...on(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch(fail);
      // The server may end a checked-out connection between queries (57P01 admin shutdown): pg
      // then emits 'error' on the client, which would crash the process without a listener.
      // The next query on it fails too and is what reports it.
      let broken: unknown;
      const lost = (err: Error) => {
        broken = err;
        log?.warn({ err: err.message }, 'database connection lost in a transaction');
      };
      client.on('error', lost);
      try {
        await client.query('begin').catch(fail);
        const result = await fn(on(client));
        await client.query('commit').catch(fail);
        return result;
      } catch (err) {
        await client.query('rollback').catch((e: unknown) => (broken = e));
        throw err;
      } finally {
        // A client whose rollback failed is in an unknown state: destroy it rather than reuse it.
        client.off('error', lost);
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async close() {
      if (!pool.ended && !pool.ending) await pool.end();
    },
  };
}
