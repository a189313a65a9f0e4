import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import { BadInputError, CancelledError, ConfigError } from '../../functions/lib/errors.ts';
import { LlamaCppClient } from '../../functions/lib/models/llama.ts';
import type { ChatRequest } from '../../functions/lib/models/types.ts';
import { REAL_MODEL, testModel } from '../support/test-model.ts';

const log = pino({ level: 'silent' });
const user = (content: string): ChatRequest['messages'] => [{ role: 'user', content }];

describe('LlamaCppClient on a real small model', () => {
  let client: LlamaCppClient;
  before(async () => {
    client = await LlamaCppClient.load({ modelPath: await testModel(), contextSize: 1024, sequences: 3, log });
  }, REAL_MODEL);
  after(() => client?.close());

  test('describes itself: embedded, the file, the parallel chats', REAL_MODEL, () => {
    assert.equal(client.backend, 'embedded');
    assert.equal(client.concurrency, 3);
    assert.match(client.describe(), /^embedded llama\.cpp \(\w+\) with SmolLM2-135M-Instruct\.Q4_1\.gguf, 3 chats at once, \d+ tokens each$/);
  });

  test('streams a short answer whose pieces add up to the content, with consistent stats', REAL_MODEL, async () => {
    const pieces: string[] = [];
    const r = await client.chat({ model: 'ignored', messages: [{ role: 'system', content: 'Answer in one short sentence.' }, ...user('What is the capital of France?')], maxTokens: 24, onText: (d) => pieces.push(d) });
    assert.ok(r.content.trim().length > 0);
    assert.ok(pieces.length > 1, 'text arrives in several pieces');
    assert.equal(pieces.join(''), r.content);
    assert.ok(r.usage.promptTokens >= 10, `prompt tokens ${r.usage.promptTokens}`);
    assert.ok(r.usage.completionTokens > 0 && r.usage.completionTokens <= 24, `completion tokens ${r.usage.completionTokens}`);
    assert.ok(r.durations.totalMs > 0 && r.durations.promptMs! >= 0 && r.durations.evalMs! >= 0);
    assert.ok(Math.abs(r.durations.promptMs! + r.durations.evalMs! - r.durations.totalMs) < 1);
    assert.ok(['stop', 'length'].includes(r.doneReason ?? ''));
  });

  test('maxTokens cuts the answer and says so', REAL_MODEL, async () => {
    const r = await client.chat({ model: '', messages: user('Tell me a long story about a dragon.'), maxTokens: 5 });
    assert.equal(r.usage.completionTokens, 5);
    assert.equal(r.doneReason, 'length');
  });

  test('a prompt longer than the context is refused, not silently cut', REAL_MODEL, async () => {
    const long = Array.from({ length: 1200 }, (_, i) => `word${i}`).join(' ');
    await assert.rejects(client.chat({ model: '', messages: user(`${long}\nWhat was the first word?`), maxTokens: 8 }), (err: Error) => {
      assert.ok(err instanceof BadInputError, `${err.name}: ${err.message}`);
      assert.match(err.message, /the prompt is \d+ tokens, more than the embedded model's context of \d+ tokens per chat \(embedded\.contextSize/);
      return true;
    });
  });

  test('a JSON schema holds the output to it (grammar)', REAL_MODEL, async () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        parts: {
          type: 'array',
          minItems: 2,
          maxItems: 3,
          items: {
            type: 'object',
            properties: { title: { type: 'string' }, kind: { anyOf: [{ const: 'code' }, { const: 'fact' }] } },
            required: ['title', 'kind'],
            additionalProperties: false,
          },
        },
      },
      required: ['parts'],
      additionalProperties: false,
    };
    const r = await client.chat({ model: '', messages: user('Split this into parts: What is Rust, and who wrote Hamlet?'), format: schema, maxTokens: 160 });
    assert.doesNotMatch(r.content, /\n/, 'compact JSON: no tokens spent on line breaks and indentation');
    const parsed: unknown = JSON.parse(r.content);
    const validate = new Ajv({ strict: false }).compile(schema);
    assert.ok(validate(parsed), JSON.stringify(validate.errors));
  });

  test('format "json" (response_format json_object) holds the output to a JSON object', REAL_MODEL, async () => {
    const r = await client.chat({ model: '', messages: user('Describe Paris as JSON with a name and a country.'), format: 'json', maxTokens: 80 });
    const parsed: unknown = JSON.parse(r.content);
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), r.content);
  });

  test('sampling reaches the engine: a seed repeats an answer at a high temperature, a stop sequence ends it', REAL_MODEL, async () => {
    const ask = (seed: number) => client.chat({ model: '', messages: user('Name some fruits.'), maxTokens: 16, sampling: { temperature: 1.5, topP: 0.95, topK: 50, seed } });
    const [a, b] = [await ask(7), await ask(7)];
    assert.equal(a.content, b.content, 'same seed, same answer');
    const free = await client.chat({ model: '', messages: user('Count from 1 to 20, separated by commas.'), maxTokens: 60, sampling: { temperature: 0 } });
    assert.ok(free.content.indexOf('5') > 0, free.content);
    const stopped = await client.chat({ model: '', messages: user('Count from 1 to 20, separated by commas.'), maxTokens: 60, sampling: { temperature: 0, stop: ['5'] } });
    assert.ok(!stopped.content.includes('5') && free.content.startsWith(stopped.content), `${JSON.stringify(stopped.content)} is where ${JSON.stringify(free.content)} reaches 5`);
  });

  test('aborting stops generation at once with CancelledError', REAL_MODEL, async () => {
    const ac = new AbortController();
    let piecesAfterAbort = 0;
    let seen = 0;
    const run = client.chat({
      model: '',
      messages: user('Write a very long story about a dragon and a knight.'),
      maxTokens: 500,
      signal: ac.signal,
      onText: () => {
        if (ac.signal.aborted) piecesAfterAbort++;
        if (++seen === 3) ac.abort();
      },
    });
    await assert.rejects(run, CancelledError);
    assert.ok(piecesAfterAbort <= 1, `${piecesAfterAbort} pieces after the abort`);
    // The sequence is free again: the next chat runs.
    const next = await client.chat({ model: '', messages: user('Say hi.'), maxTokens: 4 });
    assert.ok(next.usage.completionTokens > 0);
  });

  test('an already aborted signal never starts', REAL_MODEL, async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(client.chat({ model: '', messages: user('Hi'), signal: ac.signal }), CancelledError);
  });

  test('more chats than sequences: all complete, up to 3 generating at once', REAL_MODEL, async () => {
    let active = 0;
    let most = 0;
    const prompts = ['Name a colour.', 'Name a fruit.', 'Name an animal.', 'Name a city.', 'Name a tree.'];
    const results = await Promise.all(
      prompts.map(async (p) => {
        let started = false;
        const r = await client.chat({
          model: '',
          messages: user(p),
          maxTokens: 12,
          onText: () => {
            if (!started) {
              started = true;
              most = Math.max(most, ++active);
            }
          },
        });
        if (started) active--;
        return r;
      }),
    );
    assert.equal(results.length, prompts.length);
    for (const r of results) assert.ok(r.content.trim().length > 0 && r.usage.completionTokens > 0);
    assert.ok(most >= 2, `at most ${most} chat(s) generated at once`);
    assert.ok(most <= 3, `${most} chats generated at once with 3 sequences`);
  });
});

describe('LlamaCppClient refuses bad model files with a ConfigError naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiproc-gguf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (modelPath: string) => LlamaCppClient.load({ modelPath, contextSize: 512, sequences: 1, log });
  const refuses = (path: string, why: RegExp) => (err: Error) => {
    assert.ok(err instanceof ConfigError, `${err.name}: ${err.message}`);
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, why);
    return true;
  };

  test('a missing file', async () => {
    const path = join(dir, 'missing.gguf');
    await assert.rejects(load(path), refuses(path, /does not exist/));
  });

  test('a file that is not a GGUF', async () => {
    const path = join(dir, 'random.gguf');
    writeFileSync(path, Buffer.from('this is not a model at all, just text'.repeat(100)));
    await assert.rejects(load(path), refuses(path, /not a GGUF file/));
  });

  test('a truncated GGUF', async () => {
    const path = join(dir, 'truncated.gguf');
    const head = Buffer.alloc(1_000_000);
    const fd = openSync(await testModel(), 'r');
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    writeFileSync(path, head);
    await assert.rejects(load(path), refuses(path, /truncated or corrupt/));
  });

  test('a context too large for memory', async () => {
    const path = await testModel();
    // 50M tokens of KV cache for this model (~1 TB) is more than any machine here has
    await assert.rejects(LlamaCppClient.load({ modelPath: path, contextSize: 50_000_000, sequences: 1, log }), refuses(path, /needs more memory than this machine has free.*lower embedded\.contextSize/));
  });

  test('an architecture llama.cpp does not know', async () => {
    const path = join(dir, 'alien.gguf');
    copyFileSync(await testModel(), path);
    // Rewrite the value of general.architecture ("llama", same length) in the header.
    const head = Buffer.alloc(64 * 1024);
    const fd = openSync(path, 'r+');
    readSync(fd, head, 0, head.length, 0);
    const key = head.indexOf('general.architecture');
    const value = key + 'general.architecture'.length + 4 + 8; // type (u32), length (u64)
    assert.equal(head.toString('utf8', value, value + 5), 'llama');
    writeSync(fd, Buffer.from('zzzzz'), 0, 5, value);
    closeSync(fd);
    await assert.rejects(load(path), refuses(path, /architecture 'zzzzz'/));
  });
});
