import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gate, plan, result, ScriptModel, sseData, startEmbedded, type Embedded } from '../robustness/harness.ts';

/** The reasoning_content of an SSE body, in order. */
const reasoningOf = (text: string) =>
  sseData(text)
    .filter((d) => d !== '[DONE]')
    .map((d) => (JSON.parse(d) as { choices: Array<{ delta?: { reasoning_content?: string } }> }).choices[0]?.delta?.reasoning_content ?? '')
    .join('');

describe('the reasoning block from the first second', () => {
  const planner = gate();
  let app: Embedded;
  const ask = (content: string) =>
    fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'aiproc', stream: true, messages: [{ role: 'user', content }] }) });

  before(async () => {
    app = await startEmbedded(
      new ScriptModel(async (req, role) => {
        if (role === 'planner') {
          await planner.wait;
          return plan([['Monads', 'What is a monad?', 'codellama-70b'], ['Reverse', 'Reverse a list in Python.', 'codellama-34b']]);
        }
        return result(`answer(${req.messages.at(-1)!.content})`);
      }),
    );
  });
  after(async () => {
    planner.open();
    await app?.close();
  });

  test('"Planning…" streams before the planner has answered; the steps after the plan are not nested in its list', async () => {
    const res = await ask('What is a monad? And write a Python function to reverse a list.');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!reasoningOf(text).includes('Planning…')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream ended before "Planning…"');
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(app.model.count('planner'), 1, 'the planner was asked');
    assert.ok(!reasoningOf(text).includes('Split into'), 'and has not answered yet');
    planner.open();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true });
    const reasoning = reasoningOf(text);
    assert.match(reasoning, /^Planning…\n\nSplit into 2 parts \(answers shown as they are written, in order\):\n1\. Monads → codellama-70b\n2\. Reverse → codellama-34b\n\nPart \d \(/);
  });

  test('a greeting skips the planner: one fast-path part on the planner model, "Answering" said once', async () => {
    const before = app.model.count('planner');
    const reasoning = reasoningOf(await (await ask('hi there!')).text());
    assert.equal(app.model.count('planner'), before, 'no planner call');
    assert.doesNotMatch(reasoning, /Planning/);
    assert.match(reasoning, /^Answering in one part with codellama-7b \(no planning needed: a greeting\)\.\n\ncodellama-7b is writing the answer\.\n\n/);
    assert.equal(reasoning.match(/Answering/g)?.length, 1);
  });
});
