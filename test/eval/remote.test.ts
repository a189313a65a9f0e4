import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../scripts/eval/main.ts';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { evalScript, isJudge, shown, verdict } from './support.ts';

/** `npm run eval -- --url`: a running aiproc (npm start on the scripted models) answers and judges. */
describe('npm run eval against a running aiproc (--url)', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess & { dataDir: string };
  const dir = mkdtempSync(join(tmpdir(), 'aiproc-eval-remote-'));
  const key = 'sk-eval-admin';
  const userKey = 'sk-eval-user';

  before(async () => {
    // The judge prefers the answer not written by the baseline (70b), and wraps its JSON in prose.
    ollama = await startScriptedOllama(evalScript((req) => ({ content: `After weighing both: ${verdict(shown(req)[0].includes('70b') ? '2' : '1').content}` })));
    app = await startAiproc({ OLLAMA_HOST: ollama.url, AIPROC_ADMIN_KEYS: `eval:${key}`, AIPROC_API_KEYS: `alice:${userKey}` });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
    rmSync(dir, { recursive: true, force: true });
    if (app) rmSync(app.dataDir, { recursive: true, force: true });
  });

  test('answers and the judge go through its API with the key; a verdict inside prose is read', async () => {
    const out = join(dir, 'r');
    const r = await main(['--url', app.url, '--key', key, '--limit', '2', '--out', out], {});
    assert.ok(r && 'run' in r);
    const { run } = r;
    assert.equal(run.backend, `aiproc at ${app.url}`);
    assert.deepEqual({ ...run.tally }, { questions: 2, wins: 2, ties: 0, losses: 0, invalidVerdicts: 0, failedAnswers: 0 });
    // The judge is the largest model, asked alone (no planning: its request has no format).
    const judged = ollama.received.filter(isJudge);
    assert.equal(judged.length, 4);
    assert.ok(judged.every((r) => r.model === 'codellama:70b-instruct' && !r.format));
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /backend: aiproc at http/);
  });

  test('--rule checks a stored rule on the server and prints its tally', async () => {
    const created = await fetch(`${app.url}/v1/rules`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ scope: 'merger', model: '*', text: 'Be brief.' }) });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const r = await main(['--url', app.url, '--key', key, '--rule', id, '--limit', '2'], {});
    assert.ok(r && 'rule' in r);
    // The scripted parts ignore rules and the judge always prefers the first answer shown: ties.
    assert.deepEqual([r.rule.questions, r.rule.wins, r.rule.ties, r.rule.losses, r.rule.rule.id], [2, 0, 2, 0, id]);
    await assert.rejects(main(['--url', app.url, '--rule', id, '--compare', 'stitch', 'rewrite'], {}), /--rule checks a rule on the shipped questions/);
    // The rule check is for administrators; a user's key may still run the eval itself.
    await assert.rejects(main(['--url', app.url, '--key', userKey, '--rule', id], {}), /403.*admin role/);
  });

  test('a wrong key, and a model the server does not serve, are named', async () => {
    await assert.rejects(main(['--url', app.url, '--key', 'wrong', '--out', join(dir, 'x')], {}), /cannot reach aiproc at .*401.*give its API key with --key or AIPROC_API_KEY/);
    await assert.rejects(main(['--url', app.url, '--key', key, '--judge', 'codellama-13b', '--out', join(dir, 'x')], {}), /does not serve "codellama-13b" \(it serves aiproc, codellama-7b, codellama-34b, codellama-70b\)/);
  });
});
