import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { pino } from 'pino';
import { AmqpBus, DEAD_TASKS_QUEUE, DeadHeaders, DELIVERY_LIMIT } from '../../functions/lib/bus/amqp/index.ts';
import { Exchanges, Queues } from '../../functions/lib/bus/topology.ts';
import { BadInputError, ConfigError, RetryLaterError, UpstreamError } from '../../functions/lib/errors.ts';
import { EventTypes, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { createVhost, drainQueue, rabbitmqctl, taskEvent, testLog, waitFor } from './amqp-support.ts';
import { testEventKeys } from '../support/event-keys.ts';
import { SIGNATURE_ATTRIBUTE, signEvent } from '../../functions/lib/events/index.ts';

let vh: Awaited<ReturnType<typeof createVhost>>;
let raw: ChannelModel;
let ch: Channel;

before(async () => {
  vh = await createVhost('bus');
  raw = await amqp.connect(vh.url);
  ch = await raw.createChannel();
});
after(async () => {
  await raw?.close().catch(() => {});
  await vh?.drop();
});

const depth = async (queue: string) => (await ch.checkQueue(queue)).messageCount;
const drainDead = () => drainQueue(ch, Queues.dead);
const bus = (models: string[], extra: Partial<Parameters<typeof AmqpBus.start>[0]> = {}) =>
  AmqpBus.start({ url: vh.url, log: testLog, instance: `t-${models[0]}`, models, retryDelayMs: 10, eventKeys: testEventKeys, ...extra });

describe('AmqpBus against the real RabbitMQ', () => {
  test('declares quorum work queues with a delivery limit and at-least-once dead-lettering', async () => {
    const b = await bus(['decl-a', 'decl-b']);
    try {
      const lines = (await rabbitmqctl('list_queues', '-p', vh.vhost, 'name', 'type', 'arguments')).split('\n');
      for (const q of [Queues.task('decl-a'), Queues.task('decl-b'), Queues.results, Queues.feedback]) {
        const line = lines.find((l) => l.startsWith(`${q}\t`));
        assert.ok(line, `queue ${q} declared`);
        assert.match(line, /\tquorum\t/);
        assert.match(line, new RegExp(`x-delivery-limit.*${DELIVERY_LIMIT}`));
        assert.match(line, /x-dead-letter-exchange.*aiproc\.dead/);
        assert.match(line, /x-dead-letter-strategy.*at-least-once/);
        assert.match(line, /x-overflow.*reject-publish/);
      }
      assert.ok(lines.some((l) => l.startsWith(`${Queues.dead}\t`)));
      assert.ok(lines.some((l) => l.startsWith(`${DEAD_TASKS_QUEUE}\t`)));
      // Declaring again (a second process starting) is harmless.
      const again = await bus(['decl-a']);
      await again.close();
    } finally {
      await b.close();
    }
  });

  test('publishes under confirm; each event is delivered once, acked, and copied to the events topic', async () => {
    const b = await bus(['pc']);
    try {
      const watched: AnyEvent[] = [];
      await b.watch('dev.aiproc.task.*', (e) => watched.push(e));
      const sent = Array.from({ length: 50 }, (_, i) => taskEvent('pc', i));
      await Promise.all(sent.map((e) => b.publish(e)));
      const got: AnyEvent[] = [];
      const stop = await b.consume(Queues.task('pc'), async (e, info) => {
        assert.equal(info.attempt, 1);
        got.push(e);
      }, { concurrency: 8, attempts: 3 });
      await waitFor('50 deliveries', () => got.length >= 50);
      await waitFor('the events topic copy', () => watched.length >= 50);
      await stop();
      assert.equal(got.length, 50);
      assert.deepEqual(new Set(got.map((e) => e.id)), new Set(sent.map((e) => e.id)));
      assert.deepEqual(got.find((e) => e.id === sent[7]!.id), sent[7]);
      assert.equal(watched.length, 50);
      assert.equal(await depth(Queues.task('pc')), 0, 'every message acked');
    } finally {
      await b.close();
    }
  });

  test('a task for a model without a queue is refused, not silently dropped', async () => {
    const b = await bus(['known']);
    try {
      await assert.rejects(b.publish(taskEvent('unknown-model')), (err: unknown) => err instanceof BadInputError && /unknown-model/.test(err.message));
    } finally {
      await b.close();
    }
  });

  test('a message held by a consumer that is SIGKILLed is redelivered and completed elsewhere', async () => {
    const b = await bus(['crash']);
    const child = spawn(process.execPath, ['test/bus/amqp-victim.ts', vh.url, 'crash'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor('the victim to consume', () => out.includes('ready'));
      const ev = taskEvent('crash');
      await b.publish(ev);
      await waitFor('the victim to hold the message', () => out.includes(`got ${ev.id}`));
      child.kill('SIGKILL');
      await once(child, 'exit');
      const got: AnyEvent[] = [];
      const stop = await b.consume(Queues.task('crash'), async (e) => void got.push(e), { concurrency: 1, attempts: 1 });
      await waitFor('the redelivery', () => got.length >= 1);
      await stop();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.id, ev.id);
      assert.equal(await depth(Queues.task('crash')), 0);
    } finally {
      child.kill('SIGKILL');
      await b.close();
    }
  });

  test('poison messages are dead-lettered at once with their reason, never retried', async () => {
    const b = await bus(['poison']);
    try {
      await drainDead();
      const calls: string[] = [];
      const dead: Array<{ reason: string; attempts: number }> = [];
      const stop = await b.consume(Queues.task('poison'), async (e) => {
        calls.push(e.id);
        throw new BadInputError('this part can never work');
      }, { concurrency: 2, attempts: 3, onDeadLetter: async (_e, reason, attempts) => void dead.push({ reason, attempts }) });
      // 1: no CloudEvent headers at all; 2: a CloudEvent whose data fails its schema; 3: a handler's 400.
      ch.publish(Exchanges.tasks, 'poison', Buffer.from('just some bytes'), { contentType: 'text/plain' });
      const bad = taskEvent('poison');
      const { encode } = await import('../../functions/lib/bus/amqp/codec.ts');
      const enc = encode(bad, testEventKeys);
      // Signed as it is (a buggy function, not a forgery): it fails on its schema.
      const sig = signEvent({ ...bad, data: { jobId: 'nope' } }, testEventKeys);
      ch.publish(Exchanges.tasks, 'poison', Buffer.from(JSON.stringify({ jobId: 'nope' })), { ...enc.properties, headers: { ...enc.properties.headers, [`ce-${SIGNATURE_ATTRIBUTE}`]: sig } });
      const good = taskEvent('poison');
      await b.publish(good);
      let parked: GetMessage[] = [];
      await waitFor('three dead letters', async () => (parked.push(...(await drainDead())), parked.length >= 3));
      await stop();
      const reasons = parked.map((m) => String(m.properties.headers?.[DeadHeaders.reason]));
      assert.ok(reasons.some((r) => /not a CloudEvent: no ce-specversion header/.test(r)), reasons.join(' | '));
      assert.ok(reasons.some((r) => /data\.jobId/.test(r)), reasons.join(' | '));
      assert.ok(reasons.some((r) => r === 'this part can never work'), reasons.join(' | '));
      assert.deepEqual(calls, [good.id], 'the handler saw only the valid event, once');
      assert.deepEqual(dead, [{ reason: 'this part can never work', attempts: 1 }]);
      assert.equal(await depth(Queues.task('poison')), 0);
    } finally {
      await b.close();
    }
  });

  test('a retryable failure is retried up to `attempts`, then dead-lettered with the reason', async () => {
    const b = await bus(['retry']);
    try {
      await drainDead();
      let calls = 0;
      const dead: Array<{ reason: string; attempts: number }> = [];
      const stop = await b.consume(Queues.task('retry'), async () => {
        calls += 1;
        throw new UpstreamError('model busy');
      }, { concurrency: 1, attempts: 3, onDeadLetter: async (_e, reason, attempts) => void dead.push({ reason, attempts }) });
      await b.publish(taskEvent('retry'));
      let parked: GetMessage[] = [];
      await waitFor('the dead letter', async () => (parked.push(...(await drainDead())), parked.length >= 1));
      await stop();
      assert.equal(calls, 3);
      assert.deepEqual(dead, [{ reason: 'gave up after 3 attempts: model busy', attempts: 3 }]);
      assert.equal(parked.length, 1);
      assert.equal(String(parked[0]!.properties.headers?.[DeadHeaders.handled]), 'true');
      assert.equal(String(parked[0]!.properties.headers?.[DeadHeaders.attempts]), '3');
    } finally {
      await b.close();
    }
  });

  test('a task that keeps killing its consumer hits the delivery limit and becomes task.failed', async () => {
    const b = await bus(['limit'], { relayDeadTasks: true });
    try {
      const results: AnyEvent[] = [];
      const stopResults = await b.consume(Queues.results, async (e) => void results.push(e), { concurrency: 1, attempts: 1 });
      const ev = taskEvent('limit');
      await b.publish(ev);
      // Each crash mid-delivery returns the message to the queue (here: nack with requeue).
      const c2 = await raw.createChannel();
      let deliveries = 0;
      await c2.consume(Queues.task('limit'), (m) => {
        if (!m) return;
        deliveries += 1;
        c2.nack(m, false, true);
      });
      await waitFor('task.failed from the dead-letter relay', () => results.some((r) => r.type === EventTypes.taskFailed));
      await c2.close();
      await stopResults();
      const failed = results.find((r) => r.type === EventTypes.taskFailed);
      assert.ok(failed && failed.type === EventTypes.taskFailed);
      assert.equal(failed.data.jobId, ev.data.jobId);
      assert.equal(failed.data.index, 0);
      assert.match(failed.data.error, /delivered more than 5 times/);
      assert.equal(deliveries, DELIVERY_LIMIT + 1, 'bounded: never retried forever');
      assert.equal(results.filter((r) => r.type === EventTypes.taskFailed).length, 1);
    } finally {
      await b.close();
    }
  });

  test('a dead task is reported once: by onDeadLetter when it ran, otherwise by the merger’s relay', async () => {
    const b = await bus(['relay-a', 'relay-b'], { relayDeadTasks: true });
    try {
      const failed: AnyEvent[] = [];
      const stopResults = await b.consume(Queues.results, async (e) => void failed.push(e), { concurrency: 4, attempts: 1 });
      const never = async () => {
        throw new BadInputError('this part can never work');
      };
      const stopA = await b.consume(Queues.task('relay-a'), never, {
        concurrency: 1,
        attempts: 1,
        onDeadLetter: async (ev, reason, attempts) => {
          if (ev.type !== EventTypes.taskRequested) return;
          const d = ev.data;
          await b.publish(makeEvent(EventTypes.taskFailed, { jobId: d.jobId, index: d.part.index, model: d.part.model, error: reason, attempts }, { source: '/consumer', jobid: d.jobId }));
        },
      });
      const stopB = await b.consume(Queues.task('relay-b'), never, { concurrency: 1, attempts: 1 });
      const a = taskEvent('relay-a');
      const c = taskEvent('relay-b');
      await b.publish(a);
      await b.publish(c);
      const mine = (jobId: string) => failed.filter((e) => e.type === EventTypes.taskFailed && e.data.jobId === jobId);
      await waitFor('both reported', () => mine(a.data.jobId).length > 0 && mine(c.data.jobId).length > 0);
      const total = async (q: string) => Number((await rabbitmqctl('list_queues', '-p', vh.vhost, 'name', 'messages')).split('\n').find((l) => l.startsWith(`${q}\t`))?.split('\t')[1]);
      await waitFor('the relay and the results consumer to be idle', async () => (await total(DEAD_TASKS_QUEUE)) === 0 && (await total(Queues.results)) === 0);
      await Promise.all([stopA(), stopB(), stopResults()]);
      assert.deepEqual(mine(a.data.jobId).map((e) => e.source), ['/consumer']);
      assert.deepEqual(mine(c.data.jobId).map((e) => e.source), ['/aiproc/t-relay-a/dead-letters']);
      const relayed = mine(c.data.jobId)[0]!;
      assert.ok(relayed.type === EventTypes.taskFailed && relayed.data.error === 'this part can never work');
    } finally {
      await b.close();
    }
  });

  test('cancelJob aborts the job’s deliveries in this process; they are acked, not dead-lettered', async () => {
    const b = await bus(['cancel']);
    try {
      await drainDead();
      let started = 0;
      let sawAbort = false;
      const stop = await b.consume(Queues.task('cancel'), async (_e, info) => {
        started += 1;
        await new Promise<void>((resolve) => info.signal.addEventListener('abort', () => resolve(), { once: true }));
        sawAbort = true;
        throw info.signal.reason;
      }, { concurrency: 1, attempts: 3 });
      const ev = taskEvent('cancel');
      await b.publish(ev);
      await waitFor('the delivery to start', () => started === 1);
      b.cancelJob(ev.data.jobId);
      await waitFor('the queue to empty', async () => (await depth(Queues.task('cancel'))) === 0);
      await stop();
      assert.ok(sawAbort);
      assert.equal(started, 1);
      assert.equal((await drainDead()).length, 0);
    } finally {
      await b.close();
    }
  });

  test('connections closed by the broker: the bus reconnects, in-flight and queued work completes', async () => {
    const b = await bus(['recon']);
    try {
      const done = new Set<string>();
      let deliveries = 0;
      const stop = await b.consume(Queues.task('recon'), async (e) => {
        deliveries += 1;
        await new Promise((r) => setTimeout(r, 50));
        done.add(e.id);
      }, { concurrency: 4, attempts: 3 });
      const sent = Array.from({ length: 40 }, (_, i) => taskEvent('recon', i));
      const firstHalf = Promise.all(sent.slice(0, 20).map((e) => b.publish(e)));
      await waitFor('work in flight', () => deliveries >= 4);
      await vh.closeConnections();
      raw = await amqp.connect(vh.url); // the test's own connection went too
      ch = await raw.createChannel();
      // Published while the connection is down: held, then sent and confirmed after reconnecting.
      const secondHalf = Promise.all(sent.slice(20).map((e) => b.publish(e)));
      await Promise.all([firstHalf, secondHalf]);
      await waitFor('every event handled', () => done.size === 40, 30_000);
      await waitFor('the queue to empty', async () => (await depth(Queues.task('recon'))) === 0);
      await stop();
      assert.ok(b.connection.connects >= 2, `reconnected (connects=${b.connection.connects})`);
      assert.deepEqual(new Set(done), new Set(sent.map((e) => e.id)));
    } finally {
      await b.close();
    }
  });

  test('publishes unconfirmed when the connection is closed are sent again: none lost', async () => {
    const b = await bus(['repub']);
    try {
      // Publish continuously while the broker closes the connection, so some are in flight then.
      const sent: AnyEvent[] = [];
      const publishes: Promise<void>[] = [];
      let closed = false;
      const closing = vh.closeConnections().then(() => (closed = true));
      while (!closed || sent.length < 2000) {
        for (let i = 0; i < 50; i++) {
          const e = taskEvent('repub', sent.length);
          sent.push(e);
          publishes.push(b.publish(e));
        }
        await new Promise((r) => setImmediate(r));
      }
      await closing;
      raw = await amqp.connect(vh.url);
      ch = await raw.createChannel();
      await Promise.all(publishes); // every publish resolved: confirmed on the old or on the new connection
      const seen = new Set<string>();
      const stop = await b.consume(Queues.task('repub'), async (e) => void seen.add(e.id), { concurrency: 100, attempts: 1 });
      await waitFor('every event', () => seen.size === sent.length, 60_000);
      await waitFor('the queue to empty', async () => (await depth(Queues.task('repub'))) === 0);
      await stop();
      assert.deepEqual(seen, new Set(sent.map((e) => e.id)));
      assert.ok(b.republished > 0, 'some were in flight at the close and were sent again');
    } finally {
      await b.close();
    }
  });

  test('replies sent while a splitter is disconnected wait in its reply queue', async () => {
    const splitter = await bus(['reply'], { instance: 'splitA' });
    const stop = await splitter.consume(Queues.reply('splitA'), async () => {}, { concurrency: 1, attempts: 1 });
    await stop();
    await splitter.close(); // gone: its connection is closed, as in a reconnect
    const merger = await bus(['reply'], { instance: 'mergerA' });
    try {
      const jobId = crypto.randomUUID();
      const sent = [0, 1, 2].map((i) =>
        makeEvent(EventTypes.jobProgress, { jobId, stage: 'part.completed', message: `part ${i} done`, index: i }, { source: '/merger', jobid: jobId, owner: 'splitA' }),
      );
      for (const e of sent) await merger.publish(e);
      const back = await bus(['reply'], { instance: 'splitA' });
      try {
        const got: AnyEvent[] = [];
        const stop2 = await back.consume(Queues.reply('splitA'), async (e) => void got.push(e), { concurrency: 1, attempts: 1 });
        await waitFor('the three replies', () => got.length >= 3);
        await stop2();
        assert.deepEqual(got.map((e) => e.id), sent.map((e) => e.id), 'all of them, in order');
      } finally {
        await back.close();
      }
    } finally {
      await merger.close();
    }
  });

  test('a wrong AMQP_URL: a clear message naming AMQP_URL, retried with back-off, no crash', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const log = pino({ level: 'error' }, sink);
    const b = await AmqpBus.create({ url: 'amqp://guest:secret@127.0.0.1:1/', log, instance: 'wrong', models: ['x'], publishTimeoutMs: 300, eventKeys: testEventKeys });
    try {
      await waitFor('two failed attempts', () => lines.filter((l) => /AMQP_URL/.test(l)).length >= 2, 10_000);
      const first = JSON.parse(lines.find((l) => /AMQP_URL/.test(l))!) as { msg: string; retryInMs: number };
      assert.match(first.msg, /cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1\/ \(AMQP_URL\): .*ECONNREFUSED.*retrying in \d+ ms/);
      assert.ok(!lines.join('').includes('secret'), 'the password is not logged');
      await assert.rejects(b.publish(taskEvent('x')), (err: unknown) => err instanceof RetryLaterError && /AMQP_URL/.test(err.message));
    } finally {
      await b.close();
    }
    await assert.rejects(AmqpBus.create({ url: 'http://127.0.0.1:5672', log, instance: 'x', models: [], eventKeys: null }), ConfigError);
    await assert.rejects(AmqpBus.create({ url: 'not a url', log, instance: 'x', models: [], eventKeys: null }), /AMQP_URL is not a URL/);
  });
});
