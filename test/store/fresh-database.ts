import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the tests use; override with AIPROC_TEST_DATABASE_URL (a database that exists). */
export const TEST_SERVER_URL = process.env.AIPROC_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const START_HINT =
  'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ' +
  '(or set AIPROC_TEST_DATABASE_URL to a reachable server)';

/** A connection to the test server (or `url` on it), failing with how to start Postgres when it is down. */
export async function adminClient(url: string = TEST_SERVER_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${url} (${(err as Error).message}); ${START_HINT}`, { cause: err });
  }
  return client;
}

/**
 * A new, empty database for one test file (other engineers share the server), and `drop()`
 * to remove it — only ever the one created here.
 * @example const db = await freshDatabase(); after(() => db.drop())
 */
export async function freshDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `aiproc_t_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = await adminClient();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Creates Supabase's roles (anon, authenticated, service_role with BYPASSRLS) when missing.
 * Roles are cluster-wide and shared by every test database: create idempotently, never drop.
 */
export async function ensureSupabaseRoles(): Promise<void> {
  const client = await adminClient();
  try {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      await client.query(`do $$ begin
          if not exists (select from pg_roles where rolname = '${role}') then
            create role ${role} nologin${role === 'service_role' ? ' bypassrls' : ''};
          end if;
        exception when duplicate_object or unique_violation then null;
        end $$`);
    }
  } finally {
    await client.end();
  }
}
