import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { MemoryBus } from '../../functions/lib/bus/memory.ts';
import { EventTypes, makeEvent } from '../../functions/lib/events/index.ts';
import { createLogger } from '../../functions/lib/log.ts';
import { startEventsWebhook } from '../../functions/lib/monitor/webhook.ts';
import { waitFor } from '../support/wait.ts';

// AIPROC_EVENTS_WEBHOOK_URL: the feedback process POSTs every lifecycle event. Each time its worker
// goes idle it adds an 'abort' listener to one long-lived AbortSignal and never removes it: one
// listener per idle period, for the life of the process (thousands per hour on a busy server).
test('the events webhook does not add a listener to its stop signal each time it goes idle', async () => {
  const log = createLogger('silent');
  const bus = new MemoryBus({ log });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  // Catch the AbortSignal the webhook creates, to count its listeners.
  const signals: AbortSignal[] = [];
  const OrigAC = globalThis.AbortController;
  globalThis.AbortController = class extends OrigAC {
    constructor() {
      super();
      signals.push(this.signal);
    }
  };
  let delivered: () => void = () => {};
  let hook;
  try {
    hook = await startEventsWebhook({
      bus,
      url: 'http://127.0.0.1:9/hook',
      log,
      fetch: async () => {
        delivered();
        return new Response(null, { status: 204 });
      },
    });
  } finally {
    globalThis.AbortController = OrigAC;
  }
  try {
    const jobId = crypto.randomUUID();
    for (let i = 0; i < 200; i++) {
      // one event at a time: the worker sends it, then goes idle again
      const sent = new Promise<void>((r) => (delivered = r));
      await bus.publish(makeEvent(EventTypes.jobProgress, { jobId, stage: 'merging', message: `step ${i}` }, { source: 't', jobid: jobId, owner: 'o' }));
      await sent;
      // The worker finishes that delivery and goes idle in the microtasks that follow: one turn covers them.
      await new Promise((r) => setImmediate(r));
    }
    await waitFor('the last send to be counted', () => hook.stats.sent === 200);
    assert.equal(hook.stats.sent, 200);
    const most = Math.max(...signals.map((s) => getEventListeners(s, 'abort').length));
    assert.ok(most <= 2, `an AbortSignal of the webhook holds ${most} 'abort' listeners after 200 events; warnings: ${warnings.join(' | ')}`);
  } finally {
    process.off('warning', onWarning);
    await hook.stop();
    await bus.close();
  }
});
