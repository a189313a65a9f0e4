import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../functions/lib/log.ts';
import { stitchAnswer } from '../../functions/lib/stitch.ts';
import { repairDependencies } from '../../functions/splitter/dependencies.ts';
import { Stitcher } from '../../functions/splitter/stitcher.ts';

const log = createLogger('silent');

describe('the stitcher puts part text in plan order', () => {
  test('the head part passes through live; later parts wait; the end sends only what is missing', () => {
    const s = new Stitcher(['A', 'B']);
    let out = '';
    out += s.text(1, 1, 'b1 '); // part 2 first: held
    out += s.text(0, 1, 'a1 '); // part 1: held until the opening is out
    assert.equal(out, '');
    out += s.opening('Hello.');
    assert.equal(out, 'Hello.\n\n### A\n\na1 ');
    out += s.text(0, 1, 'a2');
    out += s.done(1, 1);
    assert.ok(!out.includes('b1'), 'part 2 is done but part 1 is not');
    out += s.done(0, 1);
    assert.equal(out, 'Hello.\n\n### A\n\na1 a2\n\n### B\n\nb1 ');
    const answer = stitchAnswer('Hello.', [{ title: 'A', output: 'a1 a2' }, { title: 'B', output: 'b1 ' }], 'Bye.');
    out += s.finish(answer);
    assert.equal(out, answer);
  });

  test('a failed part is left out; a newer attempt replaces a held one; an empty opening adds no gap', () => {
    const s = new Stitcher(['A', 'B', 'C']);
    let out = s.opening('');
    out += s.text(2, 1, 'c-first-try');
    out += s.text(2, 2, 'c');
    out += s.failed(0);
    out += s.text(1, 1, 'b');
    out += s.done(1, 1);
    out += s.done(2, 2);
    const answer = stitchAnswer('', [{ title: 'A', output: null }, { title: 'B', output: 'b' }, { title: 'C', output: 'c' }], '', '\n\n> Note');
    assert.equal(out + s.finish(answer), answer);
    assert.equal(answer, '### B\n\nb\n\n### C\n\nc\n\n> Note');
  });

  test('a retry of text already on screen is said so, and the end still adds what is missing', () => {
    const s = new Stitcher(['A']);
    let out = s.opening('');
    out += s.text(0, 1, 'half');
    out += s.text(0, 2, 'whole');
    assert.match(out, /half\n\n\[the model failed mid-answer; retrying \(attempt 2\)\]\n\nwhole$/);
    out += s.done(0, 2);
    const answer = stitchAnswer('', [{ title: 'A', output: 'whole' }], 'End.');
    assert.equal(s.finish(answer), '\n\nEnd.');
  });
});

test('a part that fails after some of it went out is marked so, and the rest still lines up with the answer', () => {
  const s = new Stitcher(['A', 'B']);
  let out = s.opening('Hi.');
  out += s.text(0, 1, 'half of a');
  out += s.text(1, 1, 'b');
  out += s.done(1, 1);
  out += s.failed(0);
  assert.match(out, /half of a\n\n\[this part failed: it is left out of the answer\]\n\n\n\n### B\n\nb$/);
  const answer = stitchAnswer('Hi.', [{ title: 'A', output: null }, { title: 'B', output: 'b' }], 'Bye.', '\n\n> Note');
  assert.equal(s.finish(answer), '\n\nBye.\n\n> Note');
});

describe('plan dependencies are repaired', () => {
  test('missing parts, self-references and cycles are dropped; good ones kept', () => {
    assert.deepEqual(repairDependencies([[1], [0, 7], [2, -1]], log), [[1], [], []]);
    assert.deepEqual(repairDependencies([[], [0], [0, 1, 1]], log), [[], [0], [0, 1]]);
  });

  test('chains longer than the bound are cut', () => {
    assert.deepEqual(repairDependencies([[], [0], [1], [2]], log, 3), [[], [0], [1], []]);
    assert.deepEqual(repairDependencies([[1], [2], [3], []], log, 3), [[1], [2], [], []]);
  });
});
