import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loadModelsConfig, type ModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { ConfigError } from '../../functions/lib/errors.ts';
import { resolveModelClient, type ResolveDeps } from '../../functions/lib/models/resolve.ts';
import type { ModelClient } from '../../functions/lib/models/types.ts';
import { startScriptedOllama } from '../support/scripted-ollama.ts';
import { tempDirs } from '../support/temp-dirs.ts';
import { closedPort, startFileServer } from './file-server.ts';

const log = pino({ level: 'silent' });
const dataDir = tempDirs('aiproc-resolve-');

const fake = (backend: ModelClient['backend'], what: string): ModelClient => ({
  backend,
  describe: () => what,
  chat: () => Promise.reject(new Error('not used')),
  close: async () => {},
});

/** Records which steps ran; every side effect is a fake unless a test swaps it. */
function recorder(over: Partial<ResolveDeps> = {}) {
  const calls: string[] = [];
  const deps: ResolveDeps = {
    probeOllama: async (host) => (calls.push(`probe ${host}`), null),
    ollama: (host) => (calls.push(`ollama ${host}`), fake('ollama', `ollama at ${host}`)),
    loadEmbedded: async (path, opts) => (calls.push(`load ${path} ${opts.sequences}x${opts.contextSize}`), fake('embedded', `embedded ${path}`)),
    download: async (spec, opts) => (calls.push(`download ${spec.url}`), join(opts.dir, spec.file)),
    ...over,
  };
  return { calls, deps };
}

const baseConfig = loadModelsConfig('models.json');
const settingsFor = (env: Record<string, string>) => loadSettings({ AIPROC_DATA_DIR: dataDir(), OLLAMA_HOST: 'http://127.0.0.1:9', ...env }, { dotenv: false });

describe('resolveModelClient', () => {
  test('AIPROC_MODEL wins: loaded with the configured sequences, Ollama never asked', async () => {
    const { calls, deps } = recorder({ probeOllama: async () => ['x'] });
    const r = await resolveModelClient(settingsFor({ AIPROC_MODEL: '/models/a.gguf' }), baseConfig, log, deps);
    assert.deepEqual(calls, [`load /models/a.gguf ${baseConfig.embedded?.sequences}x${baseConfig.embedded?.contextSize}`]);
    assert.equal(r.client.backend, 'embedded');
    assert.match(r.description, /AIPROC_MODEL/);
  });

  test('then Ollama at OLLAMA_HOST when it answers', async () => {
    const { calls, deps } = recorder({ probeOllama: async (host) => (host === 'http://ollama:11434' ? ['codellama:7b-instruct'] : null) });
    const r = await resolveModelClient(settingsFor({ OLLAMA_HOST: 'http://ollama:11434' }), baseConfig, log, deps);
    assert.deepEqual(calls, ['ollama http://ollama:11434']);
    assert.equal(r.client.backend, 'ollama');
    assert.match(r.description, /OLLAMA_HOST=http:\/\/ollama:11434/);
  });

  test('a real Ollama API at OLLAMA_HOST is found by the real probe', async () => {
    const ollama = await startScriptedOllama(() => ({ content: 'hi' }));
    try {
      const r = await resolveModelClient(settingsFor({ OLLAMA_HOST: ollama.url }), baseConfig, log, { loadEmbedded: async () => assert.fail('the embedded engine must not load') });
      assert.equal(r.client.backend, 'ollama');
      assert.ok(r.description.includes(ollama.url), r.description);
      await r.client.close();
    } finally {
      await ollama.close();
    }
  });

  test('then a GGUF in the data folder, the configured file first', async () => {
    const settings = settingsFor({});
    const models = join(settings.AIPROC_DATA_DIR, 'models');
    mkdirSync(models);
    for (const f of ['a-other.gguf', baseConfig.embedded!.file, 'partial.gguf.partial']) writeFileSync(join(models, f), 'x');
    const { calls, deps } = recorder();
    await resolveModelClient(settings, baseConfig, log, deps);
    assert.deepEqual(calls, ['probe http://127.0.0.1:9', `load ${join(models, baseConfig.embedded!.file)} 4x4096`]);
  });

  test('then the download of the configured model into the data folder', async () => {
    const settings = settingsFor({});
    const { calls, deps } = recorder();
    const r = await resolveModelClient(settings, baseConfig, log, deps);
    const file = join(settings.AIPROC_DATA_DIR, 'models', baseConfig.embedded!.file);
    assert.deepEqual(calls, ['probe http://127.0.0.1:9', `download ${baseConfig.embedded!.url}`, `load ${file} 4x4096`]);
    assert.match(r.description, /downloaded/);
  });

  test('the real download step fetches from a (local) server, checks it and loads it', async () => {
    const bytes = randomBytes(4096);
    const srv = await startFileServer(bytes);
    try {
      const config: ModelsConfig = { ...baseConfig, embedded: { name: 'tiny', url: srv.url('/tiny.gguf'), file: 'tiny.gguf', size: bytes.length, contextSize: 1024, sequences: 2 } };
      const settings = settingsFor({});
      const { calls, deps } = recorder({ download: undefined });
      await resolveModelClient(settings, config, log, deps);
      assert.deepEqual(calls.slice(1), [`load ${join(settings.AIPROC_DATA_DIR, 'models', 'tiny.gguf')} 2x1024`]);
      assert.equal(srv.requests.length, 1);
    } finally {
      await srv.close();
    }
  });

  test('with no model anywhere and no internet: a ConfigError that says how to point at one', async () => {
    const port = await closedPort();
    const config: ModelsConfig = { ...baseConfig, embedded: { ...baseConfig.embedded!, url: `http://127.0.0.1:${port}/m.gguf` } };
    const settings = settingsFor({ OLLAMA_HOST: `http://127.0.0.1:${port}` });
    const { deps } = recorder({ download: undefined, probeOllama: undefined, probeTimeoutMs: 500 });
    await assert.rejects(resolveModelClient(settings, config, log, deps), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /ECONNREFUSED/);
      assert.match(err.message, /AIPROC_MODEL=\/path\/to\/model\.gguf/);
      assert.match(err.message, /OLLAMA_HOST/);
      assert.ok(err.message.includes(join(settings.AIPROC_DATA_DIR, 'models')));
      return true;
    });
  });

  test('a broken AIPROC_MODEL is reported, not skipped', async () => {
    const { deps } = recorder({ loadEmbedded: undefined });
    await assert.rejects(resolveModelClient(settingsFor({ AIPROC_MODEL: '/nowhere/model.gguf' }), baseConfig, log, deps), (err: Error) => err instanceof ConfigError && err.message.includes('/nowhere/model.gguf'));
  });
});
