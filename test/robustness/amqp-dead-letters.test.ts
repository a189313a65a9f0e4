import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { Queues } from '../../functions/lib/bus/topology.ts';
import { BadInputError } from '../../functions/lib/errors.ts';
import { EventTypes, type AnyEvent } from '../../functions/lib/events/index.ts';
import { createVhost, taskEvent, testLog, waitFor } from '../bus/amqp-support.ts';
import { testEventKeys } from '../support/event-keys.ts';

// A task dead-lettered on RabbitMQ (poison, delivery limit, or Knative's source giving up) becomes
// task.failed through the merger's relay. The in-process bus's task.failed (app.ts taskFailed)
// carries the job's owner; the relay's does not, so mergerHandler takes `event.owner ?? ctx.instance`
// and sends "Part N failed: …" to the merger's own reply key, where no splitter listens.
test('a dead-lettered task becomes task.failed addressed to the splitter that owns the job', async () => {
  const vh = await createVhost('robust-dead');
  const bus = await AmqpBus.start({ url: vh.url, log: testLog, instance: 'merger-x', models: ['dl'], retryDelayMs: 10, relayDeadTasks: true, eventKeys: testEventKeys });
  try {
    const failed: AnyEvent[] = [];
    await bus.watch(EventTypes.taskFailed, (e) => failed.push(e));
    // A consumer (e.g. the dispatcher in front of a Knative function) that refuses the task for good.
    const stop = await bus.consume(Queues.task('dl'), async () => {
      throw new BadInputError('refused');
    }, { concurrency: 1, attempts: 1 });
    const task = taskEvent('dl', 0); // owner: 'splitter1'
    await bus.publish(task);
    await waitFor('task.failed', () => failed.length > 0);
    await stop();
    assert.equal(failed[0]!.jobid, task.jobid);
    assert.equal(failed[0]!.owner, 'splitter1');
  } finally {
    await bus.close();
    await vh.drop();
  }
});
