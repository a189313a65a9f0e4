import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AppVersions } from '../../charts/versions.ts';

/** The real n8n the slow suites run: the version we deploy (charts/versions.ts), cached outside the repo. */
export const N8N_VERSION = AppVersions.n8n;
export const n8nCacheDir = process.env.AIPROC_N8N_CACHE ?? join(homedir(), '.cache', 'aiproc', 'n8n');
export const n8nBin = join(n8nCacheDir, 'node_modules', '.bin', 'n8n');
export const repoN8n = join(import.meta.dirname, '..', '..', 'n8n');
// n8n needs Node 24: the one running this test (node_modules/.bin/node) goes first on PATH.
export const N8N_PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;

export interface Run { code: number | null; out: string }
/** Runs a command to its end (resolves on 'close'), output collected. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Installs n8n@N8N_VERSION into the cache when it is not there (install scripts skipped: they only build optional native modules). */
export async function ensureN8n(): Promise<void> {
  const pkg = join(n8nCacheDir, 'node_modules', 'n8n', 'package.json');
  if (existsSync(n8nBin) && existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === N8N_VERSION) return ensureSqlite3();
  await mkdir(n8nCacheDir, { recursive: true });
  if (!existsSync(join(n8nCacheDir, 'package.json'))) await writeFile(join(n8nCacheDir, 'package.json'), '{"name":"aiproc-n8n-cache","private":true}\n');
  process.stderr.write(`installing n8n@${N8N_VERSION} into ${n8nCacheDir} (once; several minutes)…\n`);
  const r = await run('npm', ['install', '--prefix', n8nCacheDir, '--ignore-scripts', '--no-audit', '--no-fund', `n8n@${N8N_VERSION}`], { ...process.env, PATH: N8N_PATH });
  assert.equal(r.code, 0, `npm install n8n failed:\n${r.out.slice(-4000)}`);
  await ensureSqlite3();
}

/**
 * n8n's AI Agent node loads sqlite3 (for its SQL agent) whatever the agent does, and the install
 * skipped its build. Its sources come with the package (SQLite's amalgamation), so it is built
 * here, offline, by npm's own node-gyp against the system's Node headers (Debian: /usr/include/node;
 * it is an N-API addon, so their Node version does not matter). Once: a few minutes.
 */
async function ensureSqlite3(): Promise<void> {
  const dir = join(n8nCacheDir, 'node_modules', 'sqlite3');
  if (existsSync(join(dir, 'build', 'Release', 'node_sqlite3.node'))) return;
  const nodedir = process.env.AIPROC_NODE_HEADERS ?? '/usr';
  assert.ok(existsSync(join(nodedir, 'include', 'node', 'common.gypi')), `building sqlite3 for n8n's AI Agent needs Node headers in ${nodedir}/include/node (apt-get install libnode-dev, or set AIPROC_NODE_HEADERS)`);
  const npmRoot = (await run('npm', ['root', '-g'], { ...process.env, PATH: N8N_PATH })).out.trim();
  const gyp = [join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), join(dirname(npmRoot), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find((f) => existsSync(f));
  assert.ok(gyp, `npm's node-gyp not found under ${npmRoot}`);
  process.stderr.write(`building sqlite3 for n8n in ${dir} (once; a few minutes)…\n`);
  const r = await run(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { ...process.env, PATH: N8N_PATH }, dir);
  assert.equal(r.code, 0, `building sqlite3 failed:\n${r.out.slice(-4000)}`);
}

export interface N8nNode { name: string; type: string; typeVersion: number; parameters: Record<string, any>; credentials?: Record<string, { id: string; name: string }> }
export interface Workflow { id: string; name: string; nodes: N8nNode[] }
export const readWorkflow = (file: string) => JSON.parse(readFileSync(join(repoN8n, file), 'utf8')) as Workflow;

/**
 * Imports a workflow file of n8n/ with its Settings node's values changed, plus the bearer-token
 * credentials it names (by their ids; `tokens` by credential name).
 * @example await importPatched(n8n, folder, 'feedback-sync.json', { openwebuiUrl }, { 'aiproc feedback token': t })
 */
export async function importPatched(n8n: (...args: string[]) => Promise<Run>, folder: string, file: string, values: Record<string, unknown>, tokens: Record<string, string>): Promise<Workflow> {
  const wf = readWorkflow(file);
  const settings = wf.nodes.find((n) => n.name === 'Settings')!;
  for (const a of settings.parameters.assignments.assignments as Array<{ name: string; value: unknown }>) {
    if (a.name in values) a.value = values[a.name];
  }
  const dir = await mkdtemp(join(folder, 'import-'));
  await writeFile(join(dir, file), JSON.stringify(wf));
  const creds = new Map(wf.nodes.flatMap((n) => Object.values(n.credentials ?? {})).map((c) => [c.id, c.name]));
  await writeFile(join(dir, 'credentials.json'), JSON.stringify([...creds].map(([id, name]) => ({ id, name, type: 'httpBearerAuth', data: { token: tokens[name] } }))));
  for (const args of [['import:credentials', `--input=${join(dir, 'credentials.json')}`], ['import:workflow', `--input=${join(dir, file)}`]]) {
    const r = await n8n(...args);
    assert.equal(r.code, 0, `${args[0]}: ${r.out.slice(-4000)}`);
  }
  return wf;
}

/** The environment of an n8n whose data lives in `folder` and in the Postgres database `database` on 127.0.0.1. */
export function n8nEnv(folder: string, database: string, encryptionKey: string): NodeJS.ProcessEnv {
  return {
    PATH: N8N_PATH,
    HOME: folder,
    N8N_USER_FOLDER: folder,
    N8N_ENCRYPTION_KEY: encryptionKey,
    DB_TYPE: 'postgresdb',
    DB_POSTGRESDB_HOST: '127.0.0.1',
    DB_POSTGRESDB_PORT: '5432',
    DB_POSTGRESDB_USER: 'postgres',
    DB_POSTGRESDB_DATABASE: database,
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_LOG_LEVEL: 'info',
    // Code nodes' console.log to n8n's stdout in production executions (the error workflow's log line).
    CODE_ENABLE_STDOUT: 'true',
  };
}
