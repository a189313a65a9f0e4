import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { startRuntime } from '../../functions/app.ts';
import { startEmbedded, type Embedded } from '../../functions/embedded.ts';
import { MemoryBus } from '../../functions/lib/bus/memory.ts';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { OllamaClient } from '../../functions/lib/models/ollama.ts';
import { pgliteDriver } from '../../functions/lib/store/pglite-driver.ts';
import { SqlStore } from '../../functions/lib/store/sql-store.ts';
import { roleOf, startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { evalScript, isJudge, shown, verdict } from './support.ts';

const RULE = 'Always end with the word RULE-APPLIED.';

/**
 * POST /v1/eval/rule on the embedded app over the scripted models: parts answered with the rule
 * in their prompt say so (and so does a merge of them), and the judge prefers those answers.
 */
describe('the eval API checks a rule before it is activated', () => {
  let ollama: ScriptedOllama;
  let app: Embedded;
  let dir: string;
  const post = (body: unknown) => app.runtime.app!.request('/v1/eval/rule', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    const parts = evalScript((req) => verdict(shown(req)[0].includes('RULE-APPLIED') ? '1' : shown(req)[1].includes('RULE-APPLIED') ? '2' : 'tie'));
    ollama = await startScriptedOllama((req) => {
      const reply = parts(req);
      // parts whose prompt has the rule follow it; the merger keeps what its parts said
      const ruled = !isJudge(req) && (req.messages[0]?.content.includes(RULE) || (roleOf(req) === 'merger' && req.messages.at(-1)?.content.includes('RULE-APPLIED')));
      return ruled && 'content' in reply ? { ...reply, content: `${reply.content} RULE-APPLIED` } : reply;
    });
    dir = mkdtempSync(join(tmpdir(), 'aiproc-eval-rule-'));
    const settings = loadSettings({ AIPROC_DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent' }, { dotenv: false });
    const log = pino({ level: 'silent' });
    app = await startEmbedded({ settings, config: loadModelsConfig(settings.AIPROC_MODELS_FILE), log, model: async () => new OllamaClient({ host: ollama.url }) });
  });
  after(async () => {
    await app?.close();
    await ollama?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a drafted rule that helps wins every question, and is neither stored nor credited', async () => {
    const res = await post({ rule: { scope: 'inference', model: '*', text: RULE }, questions: 3 });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as Record<string, unknown> & { results: { kind: string; verdict: string }[] };
    assert.equal(body.object, 'eval.tally');
    assert.deepEqual(
      { questions: body.questions, wins: body.wins, ties: body.ties, losses: body.losses, invalidVerdicts: body.invalidVerdicts, failedAnswers: body.failedAnswers },
      { questions: 3, wins: 3, ties: 0, losses: 0, invalidVerdicts: 0, failedAnswers: 0 },
    );
    assert.deepEqual(body.results.map((r) => r.kind), ['multi', 'single', 'followup']);
    assert.equal(body.judge, 'codellama-70b');
    assert.deepEqual(await app.store.listRules(), []);
    // The pipeline outside the check never saw the rule.
    const plain = await app.runtime.app!.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'codellama-7b', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.doesNotMatch(JSON.stringify(await plain.json()), /RULE-APPLIED/);
  });

  test('a stored, inactive rule is checked by its id and stays inactive', async () => {
    const rule = await app.store.proposeRule({ scope: 'inference', model: '*', text: RULE, origin: 'n8n', active: false });
    const res = await post({ ruleId: rule.id, questions: 2 });
    const body = (await res.json()) as { wins: number; questions: number; rule: { id: string } };
    assert.deepEqual([res.status, body.questions, body.wins, body.rule.id], [200, 2, 2, rule.id]);
    assert.equal((await app.store.listRules()).find((r) => r.id === rule.id)?.active, false);
    assert.equal((await app.store.ruleStats()).find((st) => st.rule.id === rule.id)?.jobs ?? 0, 0, 'the check credits no jobs to the rule');
  });

  test('bad requests are refused naming the field; an unknown rule is a 404', async () => {
    const both = await post({ rule: { scope: 'inference', text: RULE }, ruleId: 'x' });
    assert.equal(both.status, 400);
    assert.match(((await both.json()) as { error: { message: string } }).error.message, /^body\.rule: give exactly one of "rule" or "ruleId"/);
    const scope = await post({ rule: { scope: 'everything', text: RULE } });
    assert.equal(scope.status, 400);
    assert.match(((await scope.json()) as { error: { message: string } }).error.message, /^body\.rule\.scope: /);
    const judge = await post({ rule: { scope: 'merger', text: RULE }, judge: 'gpt-9' });
    assert.equal(judge.status, 400);
    assert.match(((await judge.json()) as { error: { message: string } }).error.message, /"gpt-9" is not a configured model/);
    const missing = await post({ ruleId: '00000000-0000-0000-0000-000000000000' });
    assert.equal(missing.status, 404);
  });
});

describe('the rule check leaves the deployment\'s jobs to the deployment', () => {
  test('its private pipelines sweep nothing: no recovery runs on the shared store during a check', async () => {
    // GIVEN a splitter alone (no merger of its own, so no recovery of its own) on a store that
    // records every recovery sweep
    const ollama = await startScriptedOllama(evalScript(() => verdict('tie')));
    const settings = loadSettings({ AIPROC_DATA_DIR: tmpdir(), PORT: '0', LOG_LEVEL: 'silent' }, { dotenv: false });
    const real = new SqlStore(pgliteDriver());
    await real.init();
    const sweeps: string[] = [];
    const store = new Proxy(real, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop === 'staleJobs' || prop === 'jobsAwaitingSynthesis') return (...args: unknown[]) => (sweeps.push(prop), value.apply(target, args));
        return value.bind(target);
      },
    });
    const log = pino({ level: 'silent' });
    const bus = new MemoryBus({ log });
    const rt = await startRuntime({ settings, config: loadModelsConfig(settings.AIPROC_MODELS_FILE), log, bus, store, model: new OllamaClient({ host: ollama.url }), roles: { splitter: true }, listen: false });
    try {
      // WHEN a rule is checked (two private pipelines, each with a merger, on this store)
      const res = await rt.app!.request('/v1/eval/rule', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rule: { scope: 'inference', model: '*', text: RULE }, questions: 1 }) });
      assert.equal(res.status, 200, await res.clone().text());
      // THEN neither swept the store: what they would fail or finish there belongs to the
      // deployment's mergers, whose clients are on another bus
      assert.deepEqual(sweeps, []);
    } finally {
      await rt.close();
      await bus.close();
      await real.close();
      await ollama.close();
    }
  });
});
