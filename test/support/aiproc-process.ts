import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');

/**
 * The Node options `npm start` runs its entry with (package.json `scripts.start`), so a test or
 * benchmark starts the process exactly as a user does.
 * @example startNodeArgs() // ['--liftoff-only']
 */
export function startNodeArgs(): string[] {
  const start: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
  return start.split(/\s+/).filter((a) => a.startsWith('--'));
}

export interface AiprocProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed on stdout. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

/**
 * Runs one of the project's entry points as a child process, the way a user does, and resolves
 * once it prints `listening on <url>`. Rejects with its output if it exits first.
 * @example const p = await spawnListening('functions/cluster.ts', { PORT: '0' })
 */
export async function spawnListening(entry: string, env: Record<string, string>, opts: { echoStderr?: boolean; nodeArgs?: string[] } = {}): Promise<AiprocProcess> {
  const child = spawn(NODE, [...(opts.nodeArgs ?? []), entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (opts.echoStderr) process.stderr.write(d);
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolveUrl(m[1]!);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`${entry} exited (${code}) before listening:\n${err.slice(-4000)}\n${out}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

/** The data folders startAiproc made: removed when the test file's process exits (a test may start a second process on one). */
const madeDataDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of madeDataDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `npm start`'s entry (`functions/main.ts`, with its Node options) on a free port with its own data folder.
 * @example const app = await startAiproc({ OLLAMA_HOST: ollama.url })
 */
export async function startAiproc(env: Record<string, string>, opts: { dataDir?: string } = {}): Promise<AiprocProcess & { dataDir: string }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'aiproc-e2e-'));
  if (!opts.dataDir) madeDataDirs.add(dataDir);
  const p = await spawnListening('functions/main.ts', {
    PORT: '0',
    AIPROC_DATA_DIR: dataDir,
    AIPROC_RETRY_DELAY_MS: '10',
    LOG_LEVEL: 'warn',
    // Keep the embedded engine out of the way unless a test names a model file.
    OLLAMA_HOST: 'http://127.0.0.1:9',
    ...env,
    // AIPROC_TEST_LOGS=<level>: the process logs at that level, to this test's stderr.
    ...(process.env['AIPROC_TEST_LOGS'] && { LOG_LEVEL: process.env['AIPROC_TEST_LOGS'] }),
  }, { nodeArgs: startNodeArgs(), echoStderr: Boolean(process.env['AIPROC_TEST_LOGS']) });
  return { ...p, dataDir };
}
