import assert from 'node:assert/strict';
import { test } from 'node:test';
import { obviouslySingle } from '../../functions/splitter/quick-check.ts';

const check = (content: string) => obviouslySingle([{ role: 'user', content }]);

test('greetings and one short question skip the planner', () => {
  for (const g of ['hi', 'Hello!', 'hey there', 'thanks a lot!', 'Good morning, ', 'ok']) assert.equal(check(g), 'a greeting', g);
  for (const q of ['How tall is Mount Everest?', 'What is a monad?', 'Why is the sky blue?']) assert.equal(check(q), 'one short question', q);
});

test('anything that might hold two requests goes to the planner', () => {
  for (const m of [
    'What is a monad? And write a Python function to reverse a list.',
    'What is a monad and how do I write one in Haskell?',
    'Explain TCP.',
    'Write a haiku. Then explain it?',
    'What is X; what is Y?',
    'Compare these:\nA or B?',
    `What is ${'a very long question '.repeat(8)}?`,
    'hi, can you explain monads and write a Python function?',
  ])
    assert.equal(check(m), undefined, m);
});

test('only the last user message counts', () => {
  assert.equal(obviouslySingle([{ role: 'user', content: 'Explain TCP and UDP.' }, { role: 'assistant', content: '…' }, { role: 'user', content: 'thanks!' }]), 'a greeting');
});
