import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AppVersions } from '../../charts/versions.ts';
import { openWebUIEnv } from '../../charts/openwebui-connection.ts';
import { freePort } from './free-port.ts';
import { run } from './n8n.ts';
import { waitFor } from './wait.ts';

/**
 * The real OpenWebUI for `npm run test:openwebui`: the version we deploy (charts/versions.ts),
 * from PyPI into a venv outside the repo, and Chromium from Debian. Nothing downloads once these are there.
 */
export const OPENWEBUI_VERSION = AppVersions.openwebui;
export const owuiCacheDir = process.env.AIPROC_OPENWEBUI_CACHE ?? join(homedir(), '.cache', 'aiproc', 'openwebui');
const venv = join(owuiCacheDir, 'venv');
export const CHROMIUM = '/usr/bin/chromium';

/** The installed open-webui version in the venv, or undefined. */
async function installedVersion(): Promise<string | undefined> {
  if (!existsSync(join(venv, 'bin', 'pip'))) return undefined;
  const r = await run(join(venv, 'bin', 'pip'), ['show', 'open-webui'], process.env);
  return /^Version: (\S+)/m.exec(r.out)?.[1];
}

/** Installs open-webui==OPENWEBUI_VERSION (CPU torch first) into the cache's venv when it is missing or another version. */
export async function ensureOpenWebUI(): Promise<void> {
  if ((await installedVersion()) === OPENWEBUI_VERSION) return;
  await mkdir(owuiCacheDir, { recursive: true });
  process.stderr.write(`installing open-webui==${OPENWEBUI_VERSION} into ${venv} (once; many minutes)…\n`);
  const steps: Array<[string, string[]]> = [
    ['python3.11', ['-m', 'venv', venv]],
    [join(venv, 'bin', 'pip'), ['install', 'torch==2.13.0']],
    [join(venv, 'bin', 'pip'), ['install', `open-webui==${OPENWEBUI_VERSION}`]],
  ];
  for (const [cmd, args] of steps) {
    const r = await run(cmd, args, process.env, owuiCacheDir);
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed:\n${r.out.slice(-4000)}`);
  }
  assert.equal(await installedVersion(), OPENWEBUI_VERSION);
}

/** Chromium and chromedriver from Debian's packages when missing (never a browser download by a library). */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM)) return;
  process.stderr.write('installing chromium and chromium-driver with apt-get…\n');
  const r = await run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'chromium-driver'], { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
  assert.equal(r.code, 0, `apt-get install chromium failed:\n${r.out.slice(-4000)}`);
}

export interface OpenWebUI {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts OpenWebUI on a free port with its own data folder, connected to aiproc exactly as the
 * charts and docker-compose.yml connect it (charts/openwebui-connection.ts), offline (no model
 * downloads, no update checks, no embedding model). Resolves once it answers /health.
 * @example const owui = await startOpenWebUI({ splitterV1: `${aiproc.url}/v1`, key: 'k', dataDir })
 */
export async function startOpenWebUI(opts: { splitterV1: string; key: string; dataDir: string }): Promise<OpenWebUI> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(venv, 'bin')}:${process.env.PATH ?? ''}`,
    HOME: opts.dataDir,
    DATA_DIR: opts.dataDir,
    ...openWebUIEnv(opts.splitterV1),
    OPENAI_API_KEY: opts.key,
    WEBUI_SECRET_KEY: 'aiproc-test-secret',
    WEBUI_AUTH: 'true',
    OFFLINE_MODE: 'true',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    // No sentence-transformers model at start (the slim image's switch), no telemetry.
    USE_SLIM_DOCKER: 'true',
    ANONYMIZED_TELEMETRY: 'false',
    SCARF_NO_ANALYTICS: 'true',
    DO_NOT_TRACK: 'true',
    ENABLE_VERSION_UPDATE_CHECK: 'false',
  };
  const child = spawn(join(venv, 'bin', 'open-webui'), ['serve', '--host', '127.0.0.1', '--port', String(port)], { env, cwd: opts.dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer) => {
    out += d;
    if (process.env.AIPROC_OPENWEBUI_DEBUG) process.stderr.write(d);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`OpenWebUI exited (${code}) before it started:\n${out.slice(-6000)}`))));
  exited.catch(() => undefined);
  const url = `http://127.0.0.1:${port}`;
  // OpenWebUI logs nothing when its start-up is done (its logging replaces uvicorn's): /health
  // answering is the only sign, from another process, so it is polled; minutes on a busy machine.
  const healthy = waitFor('OpenWebUI to answer /health', async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true, 15 * 60_000, 500);
  await Promise.race([healthy, exited]);
  return {
    url,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
