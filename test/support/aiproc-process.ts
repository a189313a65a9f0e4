import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');

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
 * Runs `npm start`'s entry (`functions/main.ts`) as a child process on a free port, the way a user
 * does, and resolves once it prints its URL. Rejects with its stderr if it exits first.
 * @example const app = await startAiproc({ OLLAMA_HOST: ollama.url })
 */
export async function startAiproc(env: Record<string, string>, opts: { dataDir?: string } = {}): Promise<AiprocProcess & { dataDir: string }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'aiproc-e2e-'));
  const child = spawn(NODE, ['functions/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      AIPROC_DATA_DIR: dataDir,
      AIPROC_RETRY_DELAY_MS: '10',
      LOG_LEVEL: 'warn',
      // Keep the embedded engine out of the way unless a test names a model file.
      OLLAMA_HOST: 'http://127.0.0.1:9',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolveUrl(m[1]!);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`aiproc exited (${code}) before listening:\n${err}\n${out}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    url,
    child,
    dataDir,
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
