import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { Channel, GetMessage } from 'amqplib';
import { EventTypes, makeEvent } from '../../functions/lib/events/index.ts';

const run = promisify(execFile);

/** A quiet logger for tests (TEST_LOG_LEVEL=debug to see the bus talk). */
export const testLog = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** Fails with how to start RabbitMQ when nothing listens on 127.0.0.1:5672. */
export async function requireRabbit(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port: 5672 }, () => {
      s.end();
      resolve();
    });
    s.once('error', () =>
      reject(new Error('RabbitMQ is not running on 127.0.0.1:5672. Start it with: rabbitmq-server -detached')),
    );
  });
}

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 60_000 });
  return stdout;
}

/**
 * A private vhost for one test file (guest has all permissions on it), deleted by `drop()`:
 * other engineers use the same broker, so tests never touch anything outside it.
 * @example const vh = await createVhost('bus'); … await vh.drop()
 */
export async function createVhost(label: string): Promise<{ vhost: string; url: string; drop(): Promise<void>; closeConnections(): Promise<void> }> {
  await requireRabbit();
  const vhost = `aiproc-test-${label}-${randomBytes(4).toString('hex')}`;
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  return {
    vhost,
    url: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`,
    drop: async () => {
      await rabbitmqctl('delete_vhost', vhost);
    },
    /** Forcibly closes every connection of THIS vhost (never anyone else's). */
    closeConnections: async () => {
      await rabbitmqctl('close_all_connections', '--vhost', vhost, '--limit', '1000', 'aiproc test: forced close');
    },
  };
}

export { waitFor } from '../support/wait.ts';

/** Takes every message waiting in a queue (e.g. aiproc.dead, to read the reasons). */
export async function drainQueue(ch: Channel, queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

/** A valid task.requested for model `slug`. */
export function taskEvent(slug = 'm1', index = 0, jobId: string = crypto.randomUUID()) {
  return makeEvent(
    EventTypes.taskRequested,
    { jobId, part: { index, title: `part ${index}`, prompt: `say ${index}`, model: slug }, total: 3, fastPath: false, context: [] },
    { source: '/test', jobid: jobId, model: slug, owner: 'splitter1' },
  );
}
