import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../functions/lib/errors.ts';
import { largestModel, parseConfiguration } from '../../functions/eval/configs.ts';
import { parseVerdict } from '../../functions/eval/judge.ts';
import { DEFAULT_QUESTIONS, loadQuestions, parseQuestions, pickQuestions } from '../../functions/eval/questions.ts';
import { NODE, ROOT } from '../support/aiproc-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'aiproc-eval-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('eval question files', () => {
  test('the shipped set: about 30 questions of the three kinds, and a smoke set of one of each', () => {
    const qs = loadQuestions(DEFAULT_QUESTIONS);
    assert.ok(qs.length >= 28 && qs.length <= 40, String(qs.length));
    const kinds = new Set(qs.map((q) => q.kind));
    assert.deepEqual([...kinds].sort(), ['followup', 'multi', 'single']);
    assert.ok(qs.filter((q) => q.kind === 'followup').every((q) => q.messages.length >= 3 && q.messages.at(-1)!.role === 'user'));
    assert.deepEqual(pickQuestions(qs, 3).map((q) => q.kind), ['multi', 'single', 'followup']);
    assert.deepEqual(pickQuestions(qs, 5).map((q) => q.kind), ['multi', 'single', 'followup', 'multi', 'single']);
    assert.equal(pickQuestions(qs, 1000).length, qs.length);
  });

  test('a question or a conversation per line; blank lines are skipped', () => {
    const qs = parseQuestions('{"id":"a","kind":"single","question":"Q?"}\n\n{"id":"b","kind":"followup","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"},{"role":"user","content":"z"}]}\n', 'f');
    assert.deepEqual(qs.map((q) => [q.id, q.messages.length]), [['a', 1], ['b', 3]]);
  });

  for (const [what, text, error] of [
    ['a line that is not JSON', '{"id":"a","kind":"single","question":"Q?"}\n{"id": "b", oops}\n', /^q\.jsonl line 2 is not JSON \(the file must have one JSON object per line\): Expected double-quoted property name in JSON at column 13$/],
    ['a JSON array instead of lines', '[{"id":"a","kind":"single","question":"Q?"}]', /^q\.jsonl line 1: \(line\): /],
    ['a line without its question', '{"id":"a","kind":"single"}', /^q\.jsonl line 1: question: give exactly one of "question" or "messages"/],
    ['an unknown kind', '{"id":"a","kind":"essay","question":"Q?"}', /^q\.jsonl line 1: kind: /],
    ['a conversation that ends with the assistant', '{"id":"a","kind":"followup","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}', /^q\.jsonl line 1: messages: the last message must be the user's/],
    ['an id used twice', '{"id":"a","kind":"single","question":"Q?"}\n{"id":"a","kind":"single","question":"R?"}', /^q\.jsonl line 2: id "a" is already used on line 1/],
    ['an empty file', '\n\n', /^q\.jsonl has no questions/],
  ] as const) {
    test(`${what} is refused, naming the line`, () => {
      assert.throws(() => parseQuestions(text, 'q.jsonl'), (err: Error) => err instanceof ConfigError && error.test(err.message));
    });
  }

  test('npm run eval with a bad question file exits 1 with the line named and no stack trace', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"id":"a","kind":"single","question":"Q?"}\nnot json\n');
    const child = spawn(NODE, ['scripts/eval/main.ts', '--questions', file], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.ok(stderr.startsWith(`eval: ${file} line 2 is not JSON`), stderr);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
});

describe('eval verdicts and configurations', () => {
  test('a verdict is read from JSON, or from plain words; anything else is no verdict', () => {
    assert.deepEqual(parseVerdict('{"winner": "2", "reason": "B handles empty lists"}'), { said: '2', reason: 'B handles empty lists' });
    assert.deepEqual(parseVerdict('Sure! ```json\n{"winner": 1, "reason": "ok"}\n```'), { said: '1', reason: 'ok' });
    assert.equal(parseVerdict('Winner: tie')?.said, 'tie');
    assert.equal(parseVerdict('I think Answer 2 is better because it runs.')?.said, '2');
    assert.equal(parseVerdict('Both answers have merit.'), null);
    assert.equal(parseVerdict('{"winner": "both"}'), null);
  });

  test('the largest model by the size in its name is the default baseline and judge', () => {
    assert.equal(largestModel([{ slug: 'codellama-7b' }, { slug: 'codellama-70b' }, { slug: 'codellama-34b' }]), 'codellama-70b');
    assert.equal(largestModel([{ slug: 'small', tag: 'qwen2.5:1.5b' }, { slug: 'big', tag: 'llama3.1:8b-instruct' }]), 'big');
    assert.equal(largestModel([{ slug: 'alpha' }, { slug: 'beta' }]), 'beta');
  });

  test('configurations: the pipeline, a forced synthesis, extra headers, a model alone; anything else is named', () => {
    const slugs = ['codellama-7b'];
    assert.deepEqual(parseConfiguration('aiproc', slugs), { label: 'aiproc', model: 'aiproc', headers: {} });
    assert.deepEqual(parseConfiguration('stitch', slugs), { label: 'stitch', model: 'aiproc', headers: { 'X-Aiproc-Synthesis': 'stitch' } });
    assert.deepEqual(parseConfiguration('aiproc+X-Aiproc-Synthesis=rewrite', slugs).headers, { 'X-Aiproc-Synthesis': 'rewrite' });
    assert.deepEqual(parseConfiguration('model:codellama-7b', slugs), { label: 'model:codellama-7b', model: 'codellama-7b', headers: {} });
    assert.throws(() => parseConfiguration('gpt-9', slugs), /configuration "gpt-9" is neither .* \(models: codellama-7b\)/);
    assert.throws(() => parseConfiguration('aiproc+novalue', slugs), /"novalue" is not HEADER=value/);
  });
});
