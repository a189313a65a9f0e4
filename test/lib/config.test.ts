import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadModelsConfig, parseModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { ConfigError } from '../../functions/lib/errors.ts';

const base = JSON.parse(readFileSync(new URL('../../models.json', import.meta.url), 'utf8'));

describe('the models config', () => {
  test('the shipped models.json is valid and has the user\'s defaults', () => {
    const cfg = loadModelsConfig(new URL('../../models.json', import.meta.url).pathname);
    assert.equal(cfg.planner, 'codellama-7b');
    assert.equal(cfg.merger, 'codellama-7b');
    assert.equal(cfg.maxParts, 6);
    assert.deepEqual(cfg.models.map((m) => m.ollama), ['codellama:7b-instruct', 'codellama:34b-instruct', 'codellama:70b-instruct']);
  });

  const bad: Array<[string, (c: typeof base) => void, RegExp]> = [
    ['a duplicate slug', (c) => (c.models[1].slug = 'codellama-7b'), /model codellama-7b: slug: duplicate slug "codellama-7b"/],
    ['max below min', (c) => (c.models[2].scaling = { min: 2, max: 1, concurrency: 1, gpu: 1 }), /model codellama-70b: scaling\.max: max must be at least min/],
    ['an unknown GPU setting', (c) => (c.models[0].scaling.gpu = 'lots'), /model codellama-7b: scaling\.gpu/],
    ['an unknown field', (c) => (c.models[0].gpus = 2), /model codellama-7b: entry: .*gpus/],
    ['a planner that is not a model', (c) => (c.planner = 'nope'), /planner: "nope" is not a configured model slug/],
    ['a slug Kubernetes cannot use', (c) => (c.models[0].slug = 'Code_Llama'), /model Code_Llama: slug/],
  ];
  for (const [name, change, message] of bad) {
    test(`${name} is refused, naming the model and the field`, () => {
      const c = structuredClone(base);
      change(c);
      assert.throws(() => parseModelsConfig(c, 'models.json'), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});

describe('settings', () => {
  test('defaults: port 8080, data in ./data, Ollama on localhost, auth open', () => {
    const s = loadSettings({}, { dotenv: false });
    assert.equal(s.PORT, 8080);
    assert.match(s.AIPROC_DATA_DIR, /\/data$/);
    assert.equal(s.OLLAMA_HOST, 'http://127.0.0.1:11434');
    assert.deepEqual(s.AIPROC_API_KEYS, []);
  });
  test('a bad setting is named', () => {
    assert.throws(() => loadSettings({ PORT: 'eighty', DATABASE_URL: 'not a url' }, { dotenv: false }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /PORT/);
      assert.match(err.message, /DATABASE_URL must be a URL/);
      return true;
    });
  });
  test('API keys are a comma-separated list', () => {
    assert.deepEqual(loadSettings({ AIPROC_API_KEYS: ' a, b ,,c' }, { dotenv: false }).AIPROC_API_KEYS, ['a', 'b', 'c']);
  });
});
