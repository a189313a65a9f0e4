import { Hono } from 'hono';
import { messageOf, publicMessage } from '../errors.ts';
import type { Store } from '../store/types.ts';

/**
 * `GET /healthz` (the process answers) and `GET /readyz` (everything it needs answers: 503 with
 * the reason otherwise), for Kubernetes probes and people.
 * @example app.route('/', healthRoutes(() => storeAnswers(store)))
 */
export function healthRoutes(ready: () => Promise<void>): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await ready();
      return c.json({ status: 'ready' });
    } catch (err) {
      // Open to anyone (probes): the reason without the addresses inside the deployment.
      return c.json({ status: 'not ready', reason: publicMessage(messageOf(err)) }, 503);
    }
  });
  return app;
}

/** Resolves when the store answers a read (a job id that cannot exist), rejects with why not. */
export async function storeAnswers(store: Store): Promise<void> {
  await store.getJob('00000000-0000-0000-0000-000000000000');
}
