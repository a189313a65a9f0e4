import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Metrics } from '../../functions/lib/metrics/index.ts';
import { reportQueueDepth, reportRuleRatings } from '../../functions/lib/metrics/collectors.ts';

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets: Array<{ refId: string; expr: string }>;
}

const dashboard = JSON.parse(readFileSync(new URL('../../charts/grafana/aiproc.json', import.meta.url), 'utf8')) as { title: string; uid: string; panels: Panel[] };

/** Every series name the code can export: counters and gauges as named, histograms with their _bucket, _sum, _count. */
function exportedSeries(): Set<string> {
  const metrics = new Metrics();
  reportQueueDepth(metrics, { depth: () => 0 }, ['m']);
  reportRuleRatings(metrics, { ruleStats: async () => [] });
  const names = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const type = (m as unknown as { type: string }).type;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    else names.add(m.name);
  }
  return names;
}

test('the Grafana dashboard is a dashboard: a title, a uid, panels with unique ids, a place on the grid and queries', () => {
  assert.equal(dashboard.title, 'aiproc');
  assert.equal(dashboard.uid, 'aiproc');
  assert.ok(dashboard.panels.length >= 8);
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    assert.ok(p.title && p.type, `panel ${p.id} has a title and a type`);
    assert.ok(p.gridPos.w > 0 && p.gridPos.w <= 24 && p.gridPos.h > 0, `${p.title}: gridPos`);
    assert.ok(p.targets.length > 0, `${p.title}: queries`);
    assert.equal(new Set(p.targets.map((t) => t.refId)).size, p.targets.length, `${p.title}: refIds are unique`);
  }
});

test('every panel query names only metrics the code exports', () => {
  const exported = exportedSeries();
  for (const p of dashboard.panels) {
    for (const t of p.targets) {
      // Label matchers, label lists and ranges hold no metric names: drop them, then every name not called as a function is a metric.
      const bare = t.expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '').replace(/\[[^\]]*\]/g, '');
      const names = [...bare.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((n) => !/^\d/.test(n) && !/^e\d+$/.test(n));
      const metrics = names.filter((n) => !['sum', 'max', 'count', 'rate', 'increase', 'histogram_quantile', 'clamp_min'].includes(n));
      assert.ok(metrics.length > 0, `${p.title} ${t.refId}: names a metric (${t.expr})`);
      for (const name of metrics) assert.ok(exported.has(name), `${p.title} ${t.refId}: "${name}" is not a metric aiproc exports (${t.expr})`);
    }
  }
});

test('the dashboard shows what an operator asked for: jobs/s, p50/p95 job time, queue depth, parts in flight vs pods, failure rate, ratings', () => {
  const all = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
  for (const needle of ['rate(aiproc_jobs_started_total', 'histogram_quantile(0.5, sum by (le) (rate(aiproc_job_duration_seconds_bucket', 'histogram_quantile(0.95', 'aiproc_queue_depth', 'count by (model) (aiproc_parts_in_flight)', 'aiproc_jobs_finished_total{status="failed"}', 'aiproc_rating_score_sum', 'aiproc_rule_rating_score_average'])
    assert.ok(all.includes(needle), needle);
});
