import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelLoad, timelineOf } from '../../functions/console/timeline.ts';
import type { JobEventRecord, JobView, PartView } from '../../functions/lib/store/types.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const part = (index: number, model: string, start: number | null, end: number | null, status: PartView['status'] = 'completed', attempts = 1): PartView => ({
  index, title: `P${index}`, prompt: 'x', model, status, attempts, startedAt: start === null ? null : iso(start), finishedAt: end === null ? null : iso(end),
  durationMs: null, usage: { promptTokens: 1, completionTokens: 1 }, output: null, error: null, toolCalls: null,
});
const job = (parts: PartView[], extra: Partial<JobView> = {}): JobView => ({
  id: '00000000-0000-4000-8000-000000000001', status: 'completed', model: 'aiproc', owner: 'x', principal: 'user:alice', principalRole: 'user', messages: [], meta: {}, fastPath: false,
  plan: parts.map((p) => ({ index: p.index, title: p.title, prompt: 'x', model: p.model })), parts, answer: 'a', error: null,
  usage: { promptTokens: 0, completionTokens: 0 }, createdAt: iso(0), updatedAt: iso(1000), completedAt: iso(1000), ruleIds: [], synthesisAttempts: 1, synthesis: null, taskDefaults: null, opening: null, ...extra,
});
const ev = (stage: string, at: number, index?: number): JobEventRecord => ({ seq: at, stage, at: iso(at), data: index === undefined ? {} : { index } });

test('a job\'s timeline: the plan, each part after its queue wait on its model\'s lane, the synthesis on the merger lane', () => {
  const j = job([part(0, 'a', 150, 600), part(1, 'b', 300, 700)]);
  const t = timelineOf(j, [ev('planned', 100), ev('merging', 700)], T0 + 5000, 'b');
  assert.deepEqual(t.lanes, ['planner', 'a', 'b', 'merger']);
  assert.equal(t.span, 1000);
  assert.deepEqual(t.bars.map((b) => [b.kind, b.lane, b.start, b.end]), [
    ['plan', 'planner', 0, 100],
    ['queued', 'a', 100, 150],
    ['part', 'a', 150, 600],
    ['queued', 'b', 100, 300],
    ['part', 'b', 300, 700],
    ['synthesis', 'merger', 700, 1000],
  ]);
});

test('a part that depends on earlier parts (after) waits for them, and says which', () => {
  const j = job([part(0, 'a', 110, 500), part(1, 'a', 520, 900)]);
  (j.plan![1] as { after?: number[] }).after = [0];
  const t = timelineOf(j, [ev('planned', 100)], T0 + 5000, 'a');
  const wait = t.bars.find((b) => b.kind === 'waits')!;
  assert.deepEqual([wait.lane, wait.start, wait.end, wait.label], ['a', 100, 520, 'part 2 waits on part 1']);
});

test('a running job ends at now; a part not started yet is all wait; load and error rate per model', () => {
  const j = job([part(0, 'a', 200, null, 'running'), part(1, 'b', null, null, 'pending')], { status: 'running', completedAt: null });
  const t = timelineOf(j, [ev('planned', 100)], T0 + 2000, 'a');
  assert.equal(t.span, 2000);
  assert.deepEqual(t.bars.filter((b) => b.lane === 'b').map((b) => [b.kind, b.start, b.end]), [['queued', 100, 2000]]);
  assert.deepEqual(t.bars.find((b) => b.kind === 'part')!.end, 2000);
  const load = modelLoad([j, job([part(0, 'a', 1, 2), part(1, 'b', 1, 2, 'failed')])]);
  assert.deepEqual(load, [
    { model: 'a', running: 1, completed: 1, failed: 0, errorRate: 0 },
    { model: 'b', running: 1, completed: 0, failed: 1, errorRate: 1 },
  ]);
});
