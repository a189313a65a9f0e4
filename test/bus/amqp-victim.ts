// A consumer process for the crash tests: consumes a task queue, says "got <id>" on stdout for
// each delivery and never finishes it, so the test can SIGKILL it mid-delivery.
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { Queues } from '../../functions/lib/bus/topology.ts';
import { testLog } from './amqp-support.ts';
import { testEventKeys } from '../support/event-keys.ts';

const [url, slug] = process.argv.slice(2) as [string, string];
const bus = await AmqpBus.start({ url, log: testLog, instance: 'victim', models: [slug], eventKeys: testEventKeys });
await bus.consume(
  Queues.task(slug),
  async (ev) => {
    process.stdout.write(`got ${ev.id}\n`);
    await new Promise(() => {});
  },
  { concurrency: 1, attempts: 1 },
);
process.stdout.write('ready\n');
