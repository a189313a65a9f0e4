import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { readCompletionStream } from '../support/sse-reader.ts';
import { waitFor } from '../support/wait.ts';

interface JobView {
  id: string;
  status: string;
  answer: string | null;
  synthesis: string | null;
  plan: Array<{ index: number; title: string; after?: number[] }> | null;
  parts: Array<{ index: number; status: string; output: string | null }>;
}

/** Holds a scripted reply until the test opens it. */
function gate() {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const plan = (parts: Array<{ title: string; prompt: string; model: string; after?: number[] }>, synthesis?: string): Reply => ({
  content: JSON.stringify({ parts, ...(synthesis && { synthesis }) }),
});
const lastUser = (req: ReceivedChat) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const isOpening = (req: ReceivedChat) => /open the answer/.test(lastUser(req));
const isClosing = (req: ReceivedChat) => /closing/.test(lastUser(req));

describe('stitched synthesis, rewrite, dependent parts and conversations (npm start, scripted Ollama)', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;
  const job = async (id: string): Promise<JobView> => (await fetch(`${app.url}/v1/jobs/${id}`)).json() as Promise<JobView>;
  const ask = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'aiproc', ...body }) });

  before(async () => {
    ollama = await startScriptedOllama(() => ({ content: 'unused' }));
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  test('part answers arrive verbatim in plan order: part 1 live, part 2 held until part 1 is out, part 3 while it is still running', async () => {
    const alphaRest = gate();
    const gammaStart = gate();
    ollama.setResponder(async (req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'Alpha', prompt: 'Explain alpha.', model: 'codellama-7b' },
          { title: 'Beta', prompt: 'Explain beta.', model: 'codellama-34b' },
          { title: 'Gamma', prompt: 'Explain gamma.', model: 'codellama-70b' },
        ]);
      if (roleOf(req) === 'merger') return { content: isOpening(req) ? 'Three topics follow.' : 'That covers all three.' };
      const user = lastUser(req);
      if (user === 'Explain alpha.') return { content: 'alpha-one alpha-two alpha-three alpha-four', chunks: 4, holdAfter: 2, hold: alphaRest.wait };
      if (user === 'Explain gamma.') {
        await gammaStart.wait;
        return { content: 'gamma answer', chunks: 2 };
      }
      return { content: 'beta answer', chunks: 2 };
    });
    const res = await ask({ stream: true, messages: [{ role: 'user', content: 'Tell me about alpha, beta and gamma.' }] });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    const s = readCompletionStream(res);

    // Part 1 streams while it is still being written (its second half is held), after the opening.
    await s.until((x) => x.content.includes('alpha-two'), 'the first half of part 1');
    assert.equal(s.state.content.indexOf('Three topics follow.'), 0, 'the opening comes first');
    assert.doesNotMatch(s.state.reasoning, /Part 1 done/);
    // Part 2 finishes first, but its text waits for part 1.
    await s.until((x) => /Part 2 done/.test(x.reasoning), 'part 2 to finish');
    assert.ok(!s.state.content.includes('beta answer'), 'part 2 is held until part 1 is out');

    alphaRest.open();
    await s.until((x) => x.content.includes('beta answer'), 'part 2 after part 1');
    // Part 3 has not even started answering: parts 1 and 2 reached the client while it runs.
    assert.doesNotMatch(s.state.reasoning, /Part 3 done/);
    assert.ok(!s.state.content.includes('gamma answer'));
    assert.ok(s.state.content.indexOf('alpha-four') < s.state.content.indexOf('beta answer'));

    gammaStart.open();
    const end = await s.done;
    const j = await job(id);
    assert.equal(j.status, 'completed');
    assert.equal(j.synthesis, 'stitch');
    assert.equal(end.content, j.answer, 'the stored answer is exactly what the client received');
    assert.equal(
      j.answer,
      'Three topics follow.\n\n### Alpha\n\nalpha-one alpha-two alpha-three alpha-four\n\n### Beta\n\nbeta answer\n\n### Gamma\n\ngamma answer\n\nThat covers all three.',
    );
    // The merger model wrote only the joins: two small calls, bounded.
    const joins = ollama.received.filter((r) => roleOf(r) === 'merger' && r.messages.some((m) => m.content.includes('alpha, beta and gamma')));
    assert.equal(joins.length, 2);
    assert.ok(joins.every((r) => Number(r.options?.num_predict) <= 120), JSON.stringify(joins.map((r) => r.options)));
  });

  test('a part that fails: the stitched answer comes from the rest, with a note naming what is missing', async () => {
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'Good', prompt: 'Explain good.', model: 'codellama-7b' },
          { title: 'Bad', prompt: 'FAIL bad', model: 'codellama-34b' },
        ]);
      if (roleOf(req) === 'merger') return { content: isOpening(req) ? '' : 'Closing.' };
      return /FAIL/.test(lastUser(req)) ? { error: 'scripted failure', status: 500 } : { content: 'good answer' };
    });
    const res = await ask({ stream: true, messages: [{ role: 'user', content: 'good and bad' }] });
    const id = res.headers.get('x-request-id')!;
    const end = await readCompletionStream(res).done;
    const j = await job(id);
    assert.equal(j.status, 'completed');
    assert.equal(end.content, j.answer);
    assert.match(j.answer!, /^### Good\n\ngood answer\n\nClosing\.\n\n> Note: this answer is incomplete: part 2 "Bad"/);
  });

  test('X-Aiproc-Synthesis: rewrite makes the merger write one new answer; the planner can choose rewrite too; a bad value is a 400 naming the header', async () => {
    const rewrites: ReceivedChat[] = [];
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner')
        return plan(
          [
            { title: 'A', prompt: 'Explain a.', model: 'codellama-7b' },
            { title: 'B', prompt: 'Explain b.', model: 'codellama-34b' },
          ],
          /planner says rewrite/.test(lastUser(req)) ? 'rewrite' : undefined,
        );
      if (roleOf(req) === 'merger') {
        if (/Write the combined answer/.test(lastUser(req))) rewrites.push(req);
        return { content: 'REWRITTEN' };
      }
      return { content: `answer(${lastUser(req)})` };
    });
    const forced = await ask({ stream: true, messages: [{ role: 'user', content: 'a and b' }] }, { 'X-Aiproc-Synthesis': 'rewrite' });
    const id = forced.headers.get('x-request-id')!;
    assert.equal((await readCompletionStream(forced).done).content, 'REWRITTEN');
    assert.equal((await job(id)).synthesis, 'rewrite');
    assert.equal(rewrites.length, 1);
    assert.match(lastUser(rewrites[0]!), /answer\(Explain a\.\)[\s\S]*answer\(Explain b\.\)/);

    const chosen = await ask({ messages: [{ role: 'user', content: 'a and b, planner says rewrite' }] });
    const body = (await chosen.json()) as { id: string; choices: Array<{ message: { content: string } }> };
    assert.equal(body.choices[0]!.message.content, 'REWRITTEN');
    assert.equal((await job(body.id)).synthesis, 'rewrite');

    const stitched = await ask({ messages: [{ role: 'user', content: 'a and b, planner says rewrite' }] }, { 'X-Aiproc-Synthesis': 'stitch' });
    const sbody = (await stitched.json()) as { id: string; choices: Array<{ message: { content: string } }> };
    assert.match(sbody.choices[0]!.message.content, /### A\n\nanswer\(Explain a\.\)\n\n### B\n\nanswer\(Explain b\.\)/);
    assert.equal((await job(sbody.id)).synthesis, 'stitch');

    const bad = await ask({ messages: [{ role: 'user', content: 'x' }] }, { 'X-Aiproc-Synthesis': 'blend' });
    assert.equal(bad.status, 400);
    const err = (await bad.json()) as { error: { message: string; param: string } };
    assert.equal(err.error.param, 'X-Aiproc-Synthesis');
    assert.match(err.error.message, /stitch.*rewrite/);
  });

  test('a dependent part starts only after the part it needs, with its answer in the prompt; an independent one starts at once', async () => {
    const fn = gate();
    ollama.setResponder(async (req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'Function', prompt: 'Write a function f.', model: 'codellama-34b' },
          { title: 'Tests', prompt: 'Write tests for f.', model: 'codellama-34b', after: [0] },
          { title: 'History', prompt: 'Who named f?', model: 'codellama-7b' },
        ]);
      if (roleOf(req) === 'merger') return { content: isOpening(req) ? 'Opening.' : '' };
      const user = lastUser(req);
      if (user === 'Write a function f.') {
        await fn.wait;
        return { content: 'def f(): return 42' };
      }
      return { content: `answer(${user.slice(-20)})` };
    });
    const res = await ask({ stream: true, messages: [{ role: 'user', content: 'function, tests and history' }] });
    const id = res.headers.get('x-request-id')!;
    const s = readCompletionStream(res);
    await s.until((x) => /Split into 3 parts/.test(x.reasoning));
    assert.match(s.state.reasoning, /2\. Tests → codellama-34b \(waits for part 1\)/);
    await waitFor('the independent parts to be asked', () => ollama.received.some((r) => lastUser(r) === 'Who named f?') && ollama.received.some((r) => lastUser(r) === 'Write a function f.'));
    await s.until((x) => /Part 3 done/.test(x.reasoning), 'the independent part to finish');
    assert.ok(!ollama.received.some((r) => lastUser(r).includes('Write tests for f.')), 'the tests wait for the function');

    fn.open();
    const end = await s.done;
    const testsReq = ollama.received.find((r) => lastUser(r).includes('Write tests for f.'))!;
    assert.match(lastUser(testsReq), /### Function\ndef f\(\): return 42[\s\S]*Now: Write tests for f\./);
    assert.match(end.reasoning, /Part 2 \(Tests\) may start: part 1 is done/);
    const j = await job(id);
    assert.equal(j.status, 'completed');
    assert.deepEqual(j.plan!.map((p) => p.after ?? []), [[], [0], []]);
    assert.equal(end.content, j.answer);
  });

  test('a dependency that failed: the dependent part runs with a note saying so, and the job ends', async () => {
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'Function', prompt: 'FAIL write f.', model: 'codellama-34b' },
          { title: 'Tests', prompt: 'Write tests for f.', model: 'codellama-7b', after: [0] },
        ]);
      if (roleOf(req) === 'merger') return { content: '' };
      return /FAIL/.test(lastUser(req)) ? { error: 'scripted failure', status: 500 } : { content: 'tests anyway' };
    });
    const res = await ask({ messages: [{ role: 'user', content: 'f and its tests' }] });
    const body = (await res.json()) as { id: string; choices: Array<{ message: { content: string } }> };
    const testsReq = ollama.received.findLast((r) => lastUser(r).includes('Write tests for f.'))!;
    assert.match(lastUser(testsReq), /### Function\n\(no answer: this part failed/);
    assert.match(body.choices[0]!.message.content, /### Tests\n\ntests anyway[\s\S]*part 1 "Function"/);
  });

  test('dependencies on missing parts, on the part itself, and cycles are dropped: every part runs and the job ends', async () => {
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'One', prompt: 'Explain one.', model: 'codellama-7b', after: [1] },
          { title: 'Two', prompt: 'Explain two.', model: 'codellama-7b', after: [0, 7] },
          { title: 'Three', prompt: 'Explain three.', model: 'codellama-7b', after: [2] },
        ]);
      if (roleOf(req) === 'merger') return { content: '' };
      return { content: `answer(${lastUser(req).slice(-14)})` };
    });
    const res = await ask({ messages: [{ role: 'user', content: 'one two three with a cycle' }] });
    const body = (await res.json()) as { id: string };
    const j = await job(body.id);
    assert.equal(j.status, 'completed');
    // One waits for two; two's wait for one would close a cycle; 7 is no part; three after itself.
    assert.deepEqual(j.plan!.map((p) => p.after ?? []), [[1], [], []]);
    assert.deepEqual(j.parts.map((p) => p.status), ['completed', 'completed', 'completed']);
    assert.match(j.answer!, /### One\n\n[\s\S]*### Two\n\n[\s\S]*### Three/);
  });

  test('a follow-up in a three-turn conversation reaches the planner with the earlier turns', async () => {
    const planners: ReceivedChat[] = [];
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner') {
        planners.push(req);
        return plan([{ title: 'Generators', prompt: 'Change parse_rows to use generators.', model: 'codellama-34b' }]);
      }
      return { content: 'def parse_rows(): yield 1' };
    });
    const messages = [
      { role: 'user', content: 'Write a Python function parse_rows that reads a CSV.' },
      { role: 'assistant', content: 'def parse_rows(path): return list(csv.reader(open(path)))' },
      { role: 'user', content: 'Add a docstring.' },
      { role: 'assistant', content: 'def parse_rows(path):\n    """Reads rows."""' },
      { role: 'user', content: 'Now change that function to use generators.' },
    ];
    const res = await ask({ messages });
    assert.equal(res.status, 200);
    await res.json();
    const asked = lastUser(planners.at(-1)!);
    assert.match(asked, /Write a Python function parse_rows that reads a CSV\./);
    assert.match(asked, /Assistant: def parse_rows\(path\): return list/);
    assert.match(asked, /Add a docstring\./);
    assert.match(asked, /Now change that function to use generators\.$/);
    // The part that answers gets the conversation too.
    const part = ollama.received.filter((r) => roleOf(r) === 'part').at(-1)!;
    assert.deepEqual(part.messages.slice(1, 5).map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  });

  test('cancelling mid-stream stops every part, a running dependent one included', async () => {
    ollama.setResponder((req) => {
      if (roleOf(req) === 'planner')
        return plan([
          { title: 'Quick', prompt: 'Quick one.', model: 'codellama-7b' },
          { title: 'Long', prompt: 'Long one.', model: 'codellama-34b' },
          { title: 'After quick', prompt: 'Long after quick.', model: 'codellama-70b', after: [0] },
        ]);
      if (roleOf(req) === 'merger') return { content: '' };
      return lastUser(req) === 'Quick one.' ? { content: 'quick answer' } : { endless: 'more ', chunkDelayMs: 10 };
    });
    const abortedBefore = ollama.aborted;
    const ac = new AbortController();
    const res = await ask({ stream: true, messages: [{ role: 'user', content: 'quick, long and dependent' }] }, {});
    const id = res.headers.get('x-request-id')!;
    const reader = res.body!.getReader();
    // The dependent part is running (and the long one still is) when the client goes away.
    await waitFor('the dependent part to run', () => ollama.received.some((r) => lastUser(r).includes('Long after quick.')) && ollama.open >= 2);
    await reader.cancel();
    ac.abort();
    await waitFor('both running parts to be stopped', () => ollama.aborted - abortedBefore >= 2);
    await waitFor('the job to be cancelled', async () => (await job(id)).status === 'cancelled');
    assert.equal(ollama.open, 0);
  });
});
