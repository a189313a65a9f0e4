import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { HTTP } from 'cloudevents';
import { pino } from 'pino';
import type { Bus } from '../../functions/lib/bus/types.ts';
import { EventTypes, fromCloudEvent, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { startEventsWebhook } from '../../functions/lib/monitor/webhook.ts';

/** A bus that only watches: the test pushes events through `emit`. */
function watchOnlyBus() {
  const watchers: Array<(e: AnyEvent) => void> = [];
  const bus = {
    watch: async (pattern: string, on: (e: AnyEvent) => void) => {
      assert.equal(pattern, '#');
      watchers.push(on);
      return async () => void watchers.splice(watchers.indexOf(on), 1);
    },
  } as unknown as Bus;
  return { bus, emit: (e: AnyEvent) => watchers.forEach((w) => w(e)), watchers };
}

/** A local receiver that answers each request with the next status in `statuses` (then 200). */
async function receiver(statuses: number[] = []) {
  const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let waiting: { n: number; resolve: () => void } | null = null;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      if (status === 200) got.push({ headers: req.headers, body });
      res.writeHead(status).end();
      if (waiting && got.length >= waiting.n) waiting.resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const received = (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve })));
  return { url, got, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const log = pino({ level: 'silent' });
const jobEvent = () => {
  const jobId = randomUUID();
  return makeEvent(EventTypes.jobFailed, { jobId, error: 'model down' }, { source: '/merger', jobid: jobId, owner: 'splitter1' });
};

describe('events webhook', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('POSTs every watched event as a binary-mode CloudEvent with the bearer token', async () => {
    const r = await receiver();
    closers.push(r.close);
    const { bus, emit } = watchOnlyBus();
    const hook = await startEventsWebhook({ bus, url: r.url, log, token: 'n8n-secret' });
    closers.push(hook.stop);
    const sent = [jobEvent(), jobEvent(), makeEvent(EventTypes.performanceReported, { model: 'small', figures: { failures: 1 } }, { source: 'n8n' })];
    sent.forEach(emit);
    await r.received(3);
    assert.deepEqual(r.got.map((g) => g.headers['ce-id']), sent.map((e) => e.id));
    assert.equal(r.got[0]!.headers.authorization, 'Bearer n8n-secret');
    assert.equal(r.got[0]!.headers['ce-jobid'], sent[0]!.jobid);
    // What n8n receives decodes back into the same event.
    const back = fromCloudEvent(HTTP.toEvent({ headers: r.got[0]!.headers as Record<string, string>, body: r.got[0]!.body }) as never);
    assert.deepEqual(back.data, sent[0]!.data);
    assert.equal(hook.stats.dropped + hook.stats.failed, 0);
  });

  it('retries a 503 and gives up on a 400 without blocking later events', async () => {
    const r = await receiver([503, 503, 400]);
    closers.push(r.close);
    const { bus, emit } = watchOnlyBus();
    const hook = await startEventsWebhook({ bus, url: r.url, log, retryDelayMs: 1, attempts: 3 });
    closers.push(hook.stop);
    const first = jobEvent();
    const second = jobEvent();
    const third = jobEvent();
    emit(first); // 503, 503, then 400: refused, not retried again
    emit(second);
    emit(third);
    await r.received(2);
    assert.deepEqual(r.got.map((g) => g.headers['ce-id']), [second.id, third.id]);
    assert.equal(hook.stats.failed, 1);
  });

  it('never blocks the publisher: a full queue drops its oldest events, and stop() stops watching', async () => {
    const { bus, emit, watchers } = watchOnlyBus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const posted: string[] = [];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      posted.push((init.headers as Record<string, string>)['ce-id']!);
      started();
      await gate;
      return new Response(null, { status: 200 });
    }) as typeof fetch;
    const hook = await startEventsWebhook({ bus, url: 'http://unused.invalid/', log, queueSize: 2, fetch: fakeFetch });
    const events = Array.from({ length: 6 }, jobEvent);
    emit(events[0]!);
    await inFlight;
    events.slice(1).forEach(emit); // returns at once although the first is still being sent
    assert.equal(hook.stats.dropped, 3, 'one in flight, two queued, three dropped');
    assert.equal(hook.stats.queued, 2);
    release();
    await hook.stop();
    assert.equal(watchers.length, 0);
    assert.equal(posted[0], events[0]!.id);
  });
});
