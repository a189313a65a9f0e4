import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryBus, topicToRegExp } from '../../functions/lib/bus/memory.ts';
import { Queues } from '../../functions/lib/bus/topology.ts';
import { BadInputError, UpstreamError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { createLogger } from '../../functions/lib/log.ts';

const log = createLogger('silent');
const jobId = '11111111-1111-4111-8111-111111111111';
const task = (index: number, model = 'm1') =>
  makeEvent(
    EventTypes.taskRequested,
    { jobId, part: { index, title: `t${index}`, prompt: 'p', model }, total: 4, fastPath: false, context: [] },
    { source: 'test', jobid: jobId, model, owner: 'me' },
  ) as AnyEvent;

/** A promise and its resolver, to wait on an event instead of sleeping. */
function signal<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('the in-process bus keeps the queue semantics', () => {
  test('routes a task to its model queue only, and never runs more than the concurrency at once', async () => {
    const bus = new MemoryBus({ log, retryDelayMs: 1 });
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const done = signal();
    const other: AnyEvent[] = [];
    await bus.consume(Queues.task('m2'), async (ev) => void other.push(ev), { concurrency: 1, attempts: 1 });
    await bus.consume(
      Queues.task('m1'),
      async (ev) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        seen.push((ev.data as { part: { index: number } }).part.index);
        if (seen.length === 4) done.resolve();
      },
      { concurrency: 2, attempts: 1 },
    );
    for (let i = 0; i < 4; i++) await bus.publish(task(i));
    await done.promise;
    assert.equal(peak, 2);
    assert.deepEqual(seen.sort(), [0, 1, 2, 3]);
    assert.equal(other.length, 0);
  });

  test('retries retryable failures with back-off, then succeeds', async () => {
    const bus = new MemoryBus({ log, retryDelayMs: 1 });
    const attempts: number[] = [];
    const done = signal();
    await bus.consume(
      Queues.task('m1'),
      async (_ev, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 3) throw new UpstreamError('model busy');
        done.resolve();
      },
      { concurrency: 1, attempts: 3 },
    );
    await bus.publish(task(0));
    await done.promise;
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  test('dead-letters after the last attempt, with the reason, and never retries bad input', async () => {
    const bus = new MemoryBus({ log, retryDelayMs: 1 });
    const dead: Array<[number, string, number]> = [];
    const both = signal();
    const calls = new Map<number, number>();
    await bus.consume(
      Queues.task('m1'),
      async (ev) => {
        const i = (ev.data as { part: { index: number } }).part.index;
        calls.set(i, (calls.get(i) ?? 0) + 1);
        if (i === 0) throw new UpstreamError('still down');
        throw new BadInputError('never works');
      },
      {
        concurrency: 2,
        attempts: 3,
        onDeadLetter: async (ev, reason, n) => {
          dead.push([(ev.data as { part: { index: number } }).part.index, reason, n]);
          if (dead.length === 2) both.resolve();
        },
      },
    );
    await bus.publish(task(0));
    await bus.publish(task(1));
    await both.promise;
    dead.sort((a, b) => a[0] - b[0]);
    assert.deepEqual(dead, [
      [0, 'still down', 3],
      [1, 'never works', 1],
    ]);
    assert.equal(calls.get(0), 3);
    assert.equal(calls.get(1), 1);
  });

  test('cancelJob aborts the job\'s in-flight deliveries without dead-lettering them', async () => {
    const bus = new MemoryBus({ log, retryDelayMs: 1 });
    const started = signal();
    const aborted = signal<string>();
    let deadLettered = 0;
    await bus.consume(
      Queues.task('m1'),
      (_ev, { signal: s }) =>
        new Promise<void>((_resolve, reject) => {
          started.resolve();
          s.addEventListener('abort', () => {
            aborted.resolve(String((s.reason as Error).message));
            reject(s.reason);
          });
        }),
      { concurrency: 1, attempts: 3, onDeadLetter: async () => void deadLettered++ },
    );
    await bus.publish(task(0));
    await started.promise;
    bus.cancelJob(jobId);
    assert.equal(await aborted.promise, 'the client went away');
    await new Promise((r) => setImmediate(r));
    assert.equal(deadLettered, 0);
  });

  test('messages wait in their queue until a consumer comes', async () => {
    const bus = new MemoryBus({ log, retryDelayMs: 1 });
    const ev = task(0);
    await bus.publish(ev);
    assert.equal(bus.depth(Queues.task('m1')), 1);
    const got = signal<AnyEvent>();
    await bus.consume(Queues.task('m1'), async (e) => got.resolve(e), { concurrency: 1, attempts: 1 });
    assert.equal((await got.promise).id, ev.id);
    assert.equal(bus.depth(Queues.task('m1')), 0);
  });

  test('watchers see every event whose type matches the topic pattern', async () => {
    const bus = new MemoryBus({ log });
    const seen: string[] = [];
    await bus.watch('dev.aiproc.task.#', (e) => seen.push(e.type));
    await bus.publish(task(0));
    await bus.publish(makeEvent(EventTypes.jobFailed, { jobId, error: 'x' }, { source: 't', owner: 'me', jobid: jobId }) as AnyEvent);
    assert.deepEqual(seen, [EventTypes.taskRequested]);
  });

  test('topic patterns follow AMQP: * is one word, # is zero or more', () => {
    assert.ok(topicToRegExp('#').test('dev.aiproc.job.delta'));
    assert.ok(topicToRegExp('dev.aiproc.*.completed').test('dev.aiproc.job.completed'));
    assert.ok(!topicToRegExp('dev.aiproc.*.completed').test('dev.aiproc.job.x.completed'));
    assert.ok(topicToRegExp('dev.aiproc.rule.#').test('dev.aiproc.rule.proposed'));
    assert.ok(topicToRegExp('dev.#.proposed').test('dev.aiproc.rule.proposed'));
    assert.ok(!topicToRegExp('dev.aiproc.task.#').test('dev.aiproc.job.failed'));
  });
});
