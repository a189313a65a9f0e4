import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

import { NODE, ROOT, spawnListening } from '../support/aiproc-process.ts';
import { waitFor } from '../support/wait.ts';
import { TEST_EVENT_KEY } from '../support/event-keys.ts';

export { NODE, ROOT };

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}


export interface PrivatePostgres {
  url: string;
  port: number;
  /** Fast shutdown and start again on the same port and data (Postgres restarted during load). */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Postgres of the test's own (initdb into a temp dir, run as the `postgres` user when we are
 * root), so that restarting it disturbs nobody: the machine's shared server is never touched.
 * @example const db = await startPrivatePostgres(); … await db.restart(); … await db.stop()
 */
export async function startPrivatePostgres(opts: { fsync?: boolean } = {}): Promise<PrivatePostgres> {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  const bin = versions.length ? `/usr/lib/postgresql/${versions.at(-1)}/bin` : '';
  if (!bin || !existsSync(join(bin, 'initdb'))) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  const dir = mkdtempSync(join(tmpdir(), 'aiproc-pg-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  if (asRoot) {
    chownSync(dir, ids.uid!, ids.gid!);
    chownSync(data, ids.uid!, ids.gid!);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...ids, stdio: 'ignore', cwd: dir });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let proc: ChildProcess | null = null;
  const up = async () => {
    proc = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', `fsync=${opts.fsync ? 'on' : 'off'}`, '-c', 'max_connections=300'], {
      ...ids,
      cwd: dir,
      stdio: 'ignore',
    });
    await waitFor('the private Postgres to accept connections', async () => {
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        await c.end();
        return true;
      } catch {
        return false;
      }
    }, 30_000);
  };
  const down = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGINT'); // fast shutdown: clients are disconnected
    await gone;
  };
  await up();
  return {
    url,
    port,
    restart: async (downMs = 1_000) => {
      await down();
      await new Promise((r) => setTimeout(r, downMs));
      await up();
    },
    stop: async () => {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ClusterProcess {
  url: string;
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The current pid of a role's process (`splitter`, `merger`, `feedback`, `inference-<slug>`). */
  pidOf(name: string): number;
  /** How many times a role's process was started. */
  starts(name: string): number;
  /** Resolves when the role's process has been started `n` times and says it is ready `n` times. */
  readyCount(name: string): number;
  stop(): Promise<void>;
}

/**
 * Runs `npm run cluster`'s entry (functions/cluster.ts) as a user would, resolving once it
 * prints where it listens.
 * @example const cluster = await startCluster({ AMQP_URL, DATABASE_URL, OLLAMA_HOST })
 */
export async function startCluster(env: Record<string, string>): Promise<ClusterProcess> {
  const p = await spawnListening(
    'functions/cluster.ts',
    // The test's own bus signs with the same key as the cluster's processes (npm run cluster would make one).
    { PORT: '0', LOG_LEVEL: 'warn', AIPROC_RETRY_DELAY_MS: '50', AIPROC_EVENT_KEYS: TEST_EVENT_KEY, ...env },
    { echoStderr: Boolean(process.env['TEST_CLUSTER_LOGS']) },
  );
  const { url, child: proc, stdout, stderr, stop } = p;
  const lines = (re: RegExp) => [...stdout().matchAll(re)];
  return {
    url,
    proc,
    stdout,
    stderr,
    pidOf: (name) => {
      const m = lines(new RegExp(`cluster: ${name} started \\(pid (\\d+)\\)`, 'g')).at(-1);
      if (!m) throw new Error(`no process ${name} in:\n${stdout()}`);
      return Number(m[1]);
    },
    starts: (name) => lines(new RegExp(`cluster: ${name} started `, 'g')).length,
    readyCount: (name) => lines(new RegExp(`cluster: ${name} ready`, 'g')).length,
    stop,
  };
}
