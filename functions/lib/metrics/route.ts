import { Hono } from 'hono';
import type { Metrics } from './index.ts';

/**
 * `GET /metrics`: the process's metrics in the Prometheus text exposition format, for scraping.
 * @example app.route('/', metricsRoute(ctx.metrics))
 */
export function metricsRoute(metrics: Metrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }));
  return app;
}
