import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadModelsConfig, type EmbeddedModel } from '../../functions/lib/config/models.ts';
import { ConfigError } from '../../functions/lib/errors.ts';
import { downloadModel } from '../../functions/lib/models/download.ts';
import { NODE, ROOT } from '../support/aiproc-process.ts';
import { tempDirs } from '../support/temp-dirs.ts';
import { closedPort, startFileServer } from './file-server.ts';

const tempDir = tempDirs('aiproc-default-');

const quiet = () => {};
const defaults = loadModelsConfig(join(ROOT, 'models.json')).embedded!;
// A small stand-in for the 1.1 GB file: the download path is the same, the bytes are not.
const bytes = randomBytes(64 * 1024 + 3);
const digest = createHash('sha256').update(bytes).digest('hex');

describe('the default embedded model', () => {
  test('is Qwen2.5-1.5B-Instruct Q4_K_M from the official repository at a pinned revision, with its size and sha256', () => {
    assert.equal(defaults.url, 'https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/91cad51170dc346986eccefdc2dd33a9da36ead9/qwen2.5-1.5b-instruct-q4_k_m.gguf');
    assert.equal(defaults.file, 'qwen2.5-1.5b-instruct-q4_k_m.gguf');
    assert.equal(defaults.sha256, '6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e');
    assert.equal(defaults.size, 1_117_320_736);
  });

  test('downloads under its own file name when the served file matches the hash and size', async () => {
    const srv = await startFileServer(bytes);
    const dir = tempDir();
    try {
      const spec: EmbeddedModel = { ...defaults, url: srv.url(`/${defaults.file}`), sha256: digest, size: bytes.length };
      const path = await downloadModel(spec, { dir, onProgress: quiet });
      assert.equal(path, join(dir, defaults.file));
      assert.deepEqual(readFileSync(path), bytes);
    } finally {
      await srv.close();
    }
  });

  test('a served file with another sha256 is refused, removed, and the message names both hashes', async () => {
    const srv = await startFileServer(bytes);
    const dir = tempDir();
    try {
      const spec: EmbeddedModel = { ...defaults, url: srv.url(`/${defaults.file}`), size: bytes.length };
      await assert.rejects(downloadModel(spec, { dir, onProgress: quiet }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.message.includes(`sha256 is ${digest}, expected ${defaults.sha256}`), err.message);
        assert.match(err.message, /Qwen2\.5-1\.5B-Instruct Q4_K_M/);
        assert.match(err.message, /removed/);
        return true;
      });
      assert.equal(existsSync(join(dir, defaults.file)), false);
      assert.equal(existsSync(join(dir, `${defaults.file}.partial`)), false);
    } finally {
      await srv.close();
    }
  });

  test('a server offering another size than the pinned 1117320736 bytes is refused before anything is written', async () => {
    const srv = await startFileServer(bytes);
    const dir = tempDir();
    try {
      const spec: EmbeddedModel = { ...defaults, url: srv.url(`/${defaults.file}`) };
      await assert.rejects(downloadModel(spec, { dir, onProgress: quiet }), new RegExp(`offers ${bytes.length} bytes, the models config expects 1117320736`));
      assert.equal(existsSync(join(dir, `${defaults.file}.partial`)), false);
    } finally {
      await srv.close();
    }
  });

  for (const [what, url] of [
    ['a host that does not resolve (no internet)', async () => `https://huggingface.invalid/${defaults.file}`],
    ['a refused connection', async () => `http://127.0.0.1:${await closedPort()}/${defaults.file}`],
  ] as const) {
    test(`npm start without Ollama, AIPROC_MODEL or a model file, and ${what}: exits with a message saying how to give it a model`, async () => {
      const dataDir = tempDir();
      const models = JSON.parse(readFileSync(join(ROOT, 'models.json'), 'utf8'));
      models.embedded.url = await url();
      const modelsFile = join(dataDir, 'models.json');
      writeFileSync(modelsFile, JSON.stringify(models));
      const child = spawn(NODE, ['functions/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', AIPROC_DATA_DIR: dataDir, AIPROC_MODELS_FILE: modelsFile, OLLAMA_HOST: `http://127.0.0.1:${await closedPort()}`, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 1, stderr);
      assert.match(stderr, /aiproc: no model to run: cannot download Qwen2\.5-1\.5B-Instruct Q4_K_M from /);
      assert.match(stderr, /Set AIPROC_MODEL=\/path\/to\/model\.gguf, put a \.gguf file into .*models, or start Ollama/);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    });
  }
});
