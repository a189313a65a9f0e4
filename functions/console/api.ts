import { Hono } from 'hono';
import type { FunctionContext } from '../lib/context.ts';
import { allowRoles } from '../lib/http/auth.ts';
import { modelLoad, timelineOf } from './timeline.ts';

/**
 * The operator console's data, `GET /overview`: the newest jobs as timelines, per-model load and
 * error rate over the last 100 jobs, and every rule version with its ratings (proposals are the
 * inactive ones). Mounted behind the API's auth and the admin role; approving and retiring go
 * through the rules API (`POST /v1/rules/:id/activate|retire`).
 * @example app.route('/v1/console', createConsoleApi(ctx))
 */
export function createConsoleApi(ctx: FunctionContext): Hono {
  const app = new Hono();
  // Every job and every rule: administrators only (open mode makes the caller the local admin).
  app.use('*', allowRoles('admin'));
  app.get('/overview', async (c) => {
    const limit = Math.min(50, Math.max(1, Number(c.req.query('jobs') ?? 12) || 12));
    const recent = await ctx.store.listJobs(100);
    const shown = recent.slice(0, limit);
    const now = Date.now();
    const jobs = await Promise.all(shown.map(async (j) => timelineOf(j, await ctx.store.listJobEvents(j.id), now, ctx.config.merger)));
    const stats = await ctx.store.ruleStats();
    const rules = stats
      .map((s) => ({ ...s.rule, jobs: s.jobs, ratings: s.ratings, averageScore: s.averageScore }))
      .sort((a, b) => Number(a.active) - Number(b.active) || b.createdAt.localeCompare(a.createdAt));
    return c.json({ now: new Date(now).toISOString(), jobs, models: modelLoad(recent), rules });
  });
  return app;
}
