import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../scripts/eval/main.ts';
import { evalEnv, isJudge, shown, verdict } from './support.ts';

const questionFile = (dir: string) => {
  const file = join(dir, 'q.jsonl');
  writeFileSync(
    file,
    [
      { id: 'two-topics', kind: 'multi', question: 'Explain lifetimes, and write a merge function.' },
      { id: 'one-thing', kind: 'single', question: 'What is DNS?' },
      { id: 'follow', kind: 'followup', messages: [{ role: 'user', content: 'Write a loop.' }, { role: 'assistant', content: 'for x in y: pass' }, { role: 'user', content: 'Now in Go.' }] },
    ]
      .map((q) => JSON.stringify(q))
      .join('\n'),
  );
  return file;
};

describe('npm run eval on the scripted models', () => {
  let t: Awaited<ReturnType<typeof evalEnv>>;
  let n = 0;
  before(async () => {
    t = await evalEnv();
  });
  after(() => t?.close());
  /** Runs the eval command on the shared backend with a fresh report folder. */
  const evalRun = async (...args: string[]) => {
    const out = join(t.dir, `report-${++n}`);
    // Every request to the aiproc API, as sent (model and headers).
    const sent: { model: string; synthesis: string | null }[] = [];
    const client = t.backend.client.withOptions({
      fetch: async (url, init) => {
        const body = JSON.parse(String(init?.body ?? '{}')) as { model?: string };
        sent.push({ model: body.model ?? '', synthesis: new Headers(init?.headers).get('x-aiproc-synthesis') });
        return fetch(url, init);
      },
    });
    const r = await main(['--questions', questionFile(t.dir), '--out', out, ...args], t.env, { backend: { ...t.backend, client } });
    assert.ok(r && 'run' in r);
    return { ...r, out, sent };
  };

  test('a judge that always prefers the first answer shown yields only ties (position bias cancels)', async () => {
    t.judge(() => verdict('1'));
    const before = t.ollama.received.filter(isJudge).length;
    const { run } = await evalRun();
    assert.deepEqual({ ...run.tally }, { questions: 3, wins: 0, ties: 3, losses: 0, invalidVerdicts: 0, failedAnswers: 0 });
    // both orders were asked for every question
    assert.equal(t.ollama.received.filter(isJudge).length - before, 6);
    assert.deepEqual(run.results.map((r) => r.judgement!.orders.map((o) => o.said)), [['1', '1'], ['1', '1'], ['1', '1']]);
  });

  test('a judge that prefers the pipeline: A wins every question, the tally adds up, the reports are written', async () => {
    // The baseline is the largest model (codellama-70b) alone; the pipeline's parts run on 34b.
    t.judge((req) => {
      const [first, second] = shown(req);
      assert.notEqual(first, second);
      return verdict(first.includes('70b') ? '2' : '1', 'the pipeline covers both topics');
    });
    {
      const { run, report, out: dir } = await evalRun();
      assert.equal(run.a.label, 'aiproc');
      assert.equal(run.b.label, 'codellama-70b');
      assert.equal(run.judge, 'codellama-70b');
      assert.deepEqual({ ...run.tally }, { questions: 3, wins: 3, ties: 0, losses: 0, invalidVerdicts: 0, failedAnswers: 0 });
      assert.equal(report, join(dir, 'report.md'));
      for (const r of run.results) {
        assert.ok(r.a.content.length > 0 && r.b.content.includes('codellama:70b-instruct'), r.b.content);
        assert.ok(r.a.wallMs > 0 && r.a.firstTokenMs !== null && r.a.firstTokenMs <= r.a.wallMs);
        assert.ok(r.b.completionTokens > 0);
      }
      const md = readFileSync(report, 'utf8');
      assert.match(md, /\*\*A wins 3 · ties 0 · B wins 0\*\* of 3 questions/);
      for (const id of ['two-topics', 'one-thing', 'follow']) assert.ok(md.includes(`| ${id} |`), id);
      const svg = readFileSync(join(dir, 'chart.svg'), 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.ok(svg.includes('two-topics') && svg.trimEnd().endsWith('</svg>'));
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).tally, run.tally);
    }
  });

  test('judge replies that are no verdict count as ties and are reported', async () => {
    t.judge(() => ({ content: 'Both answers have merit.' }));
    const { run, out } = await evalRun('--limit', '2');
    assert.deepEqual({ ...run.tally }, { questions: 2, wins: 0, ties: 2, losses: 0, invalidVerdicts: 4, failedAnswers: 0 });
    assert.equal(run.results[0]!.judgement!.orders[0].raw, 'Both answers have merit.');
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /4 judge replies were no verdict \(counted as ties\)/);
  });

  test('--compare runs two configurations: a single model against the pipeline with a forced synthesis', async () => {
    t.judge((req) => {
      const [first, second] = shown(req);
      return verdict(first === second ? 'tie' : first.includes('7b-instruct') ? '1' : '2');
    });
    const before = t.ollama.received.length;
    {
      const { run, sent } = await evalRun('--compare', 'codellama-7b', 'rewrite', '--judge', 'codellama-34b');
      // alternating which goes first; the pipeline's requests carry the synthesis header
      assert.deepEqual(sent, [
        { model: 'codellama-7b', synthesis: null },
        { model: 'aiproc', synthesis: 'rewrite' },
        { model: 'aiproc', synthesis: 'rewrite' },
        { model: 'codellama-7b', synthesis: null },
        { model: 'codellama-7b', synthesis: null },
        { model: 'aiproc', synthesis: 'rewrite' },
      ]);
      assert.deepEqual([run.a, run.b], [
        { label: 'codellama-7b', model: 'codellama-7b', headers: {} },
        { label: 'rewrite', model: 'aiproc', headers: { 'X-Aiproc-Synthesis': 'rewrite' } },
      ]);
      // The judge prefers the 7b model's own answer; where the pipeline answered with that model
      // too (its fast path may), the two answers are the same and the verdict a tie.
      assert.ok(run.tally.wins >= 1);
      assert.deepEqual(run.results.map((r) => r.verdict), run.results.map((r) => (r.a.content === r.b.content ? 'tie' : 'win')));
      const judged = t.ollama.received.slice(before).filter(isJudge);
      assert.deepEqual([...new Set(judged.map((r) => r.model))], ['codellama:34b-instruct']);
      assert.ok(judged.every((r) => r.format), 'the in-process judge is held to the verdict schema');
    }
  });

  test('a model that Ollama lacks is named, with the command that pulls it', async () => {
    const gone = t.models.pop()!;
    try {
      await assert.rejects(evalRun(), /Ollama at http:\/\/127\.0\.0\.1:\d+ does not have codellama:70b-instruct; pull it first: ollama pull codellama:70b-instruct/);
      assert.equal(existsSync(join(t.dir, `report-${n}`)), false);
    } finally {
      t.models.push(gone);
    }
  });
});
