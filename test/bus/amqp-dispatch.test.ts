import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { HTTP } from 'cloudevents';
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { startDispatcher } from '../../functions/lib/bus/amqp/dispatcher.ts';
import { Queues } from '../../functions/lib/bus/topology.ts';
import { fromCloudEvent } from '../../functions/lib/events/index.ts';
import { createVhost, drainQueue, taskEvent, testLog, waitFor } from './amqp-support.ts';
import { testEventKeys } from '../support/event-keys.ts';

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
}

let vh: Awaited<ReturnType<typeof createVhost>>;
let bus: AmqpBus;
let raw: ChannelModel;
let ch: Channel;
let server: Server;
let target: string;
/** The status the function answers, by event id: a list consumed one per request. */
const script = new Map<string, number[]>();
const hits = new Map<string, Hit[]>();
let concurrent = 0;
let maxConcurrent = 0;
let holdMs = 0;

before(async () => {
  vh = await createVhost('dispatch');
  bus = await AmqpBus.start({ url: vh.url, log: testLog, instance: 'dispatch-test', models: ['d-ok', 'd-par', 'd-raw'], eventKeys: testEventKeys });
  raw = await amqp.connect(vh.url);
  ch = await raw.createChannel();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', async () => {
      concurrent += 1;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
      concurrent -= 1;
      const id = String(req.headers['ce-id']);
      hits.set(id, [...(hits.get(id) ?? []), { headers: req.headers, body }]);
      const status = script.get(id)?.shift() ?? 202;
      res.writeHead(status).end(status >= 300 ? `status ${status}` : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  server?.close();
  await bus?.close();
  await raw?.close().catch(() => {});
  await vh?.drop();
});

const drainDead = () => drainQueue(ch, Queues.dead);
const dispatcher = (queue: string, parallelism = 1) =>
  startDispatcher({ url: vh.url, queue, target, parallelism, retry: 3, backoffPolicy: 'exponential', backoffDelayMs: 5, timeoutMs: 5_000, log: testLog });

describe('the local dispatcher (RabbitmqSource semantics)', () => {
  test('POSTs binary-mode CloudEvents, retries only the retried statuses, acks 2xx, nacks the rest to the dead letters', async () => {
    const d = await dispatcher(Queues.task('d-ok'));
    try {
      await drainDead();
      const ok = taskEvent('d-ok', 0);
      const flaky = taskEvent('d-ok', 1); // 503, 429, then accepted
      const bad = taskEvent('d-ok', 2); // 400: never retried
      const boom = taskEvent('d-ok', 3); // 500: not in the retried list either
      const gone = taskEvent('d-ok', 4); // 404 every time: retried, then given up
      script.set(flaky.id, [503, 429]);
      script.set(bad.id, [400]);
      script.set(boom.id, [500]);
      script.set(gone.id, [404, 404, 404, 404, 404]);
      for (const e of [ok, flaky, bad, boom, gone]) await bus.publish(e);
      await waitFor('five settled messages', () => d.stats.acked + d.stats.nacked === 5);
      assert.deepEqual({ acked: d.stats.acked, nacked: d.stats.nacked }, { acked: 2, nacked: 3 });
      assert.equal(hits.get(ok.id)?.length, 1);
      assert.equal(hits.get(flaky.id)?.length, 3);
      assert.equal(hits.get(bad.id)?.length, 1);
      assert.equal(hits.get(boom.id)?.length, 1);
      assert.equal(hits.get(gone.id)?.length, 4, '1 + DISPATCH_RETRY attempts');
      // What the function received is the event, in binary mode.
      const hit = hits.get(ok.id)![0]!;
      assert.equal(hit.headers['ce-type'], 'dev.aiproc.task.requested');
      assert.equal(hit.headers['ce-jobid'], ok.jobid);
      assert.equal(hit.headers['content-type'], 'application/json');
      assert.deepEqual(fromCloudEvent(HTTP.toEvent({ headers: hit.headers, body: hit.body }) as never), ok);
      // Nacked without requeue: the queue's dead-letter exchange has them, and the queue is empty.
      let parked: GetMessage[] = [];
      await waitFor('three dead letters', async () => (parked.push(...(await drainDead())), parked.length >= 3));
      assert.deepEqual(new Set(parked.map((m) => m.properties.messageId)), new Set([bad.id, boom.id, gone.id]));
      for (const m of parked) assert.equal((m.properties.headers?.['x-death'] as Array<{ reason: string }>)[0]!.reason, 'rejected');
      assert.equal((await ch.checkQueue(Queues.task('d-ok'))).messageCount, 0);
    } finally {
      await d.stop();
    }
  });

  test('parallelism bounds deliveries in flight', async () => {
    holdMs = 100;
    maxConcurrent = 0;
    const d = await dispatcher(Queues.task('d-par'), 3);
    try {
      for (let i = 0; i < 9; i++) await bus.publish(taskEvent('d-par', i));
      await waitFor('nine acks', () => d.stats.acked === 9);
      assert.equal(maxConcurrent, 3);
    } finally {
      holdMs = 0;
      await d.stop();
    }
  });

  test('a message that is not a CloudEvent is wrapped into one, as the source does', async () => {
    const d = await dispatcher(Queues.task('d-raw'));
    try {
      ch.publish('aiproc.tasks', 'd-raw', Buffer.from('plain text'), { messageId: 'raw-1', contentType: 'text/plain' });
      script.set('raw-1', [400]);
      await waitFor('the delivery', () => d.stats.nacked === 1);
      const hit = hits.get('raw-1')![0]!;
      assert.equal(hit.headers['ce-type'], 'dev.knative.rabbitmq.event');
      assert.equal(hit.headers['content-type'], 'text/plain');
      assert.equal(hit.body, 'plain text');
    } finally {
      await d.stop();
    }
  });
});
