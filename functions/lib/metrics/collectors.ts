import { Gauge } from 'prom-client';
import { Queues } from '../bus/topology.ts';
import type { RuleStats, Store } from '../store/types.ts';
import type { Metrics } from './index.ts';

/** A bus that can say how many messages wait in a queue (null: it cannot tell right now). */
export interface QueueDepths {
  depth(queue: string): number | null | Promise<number | null>;
}

/** Whether a bus can report queue depths (the in-process bus and the RabbitMQ bus both can). */
export function hasDepths(bus: unknown): bus is QueueDepths {
  return typeof (bus as Partial<QueueDepths>)?.depth === 'function';
}

/**
 * `aiproc_queue_depth{model}`: messages waiting in each model's task queue, read at scrape time.
 * Every process that reports it reads the same queue: aggregate with max, not sum.
 * @example reportQueueDepth(metrics, bus, ['codellama-7b'])
 */
export function reportQueueDepth(metrics: Metrics, bus: QueueDepths, models: readonly string[]): void {
  new Gauge({
    name: 'aiproc_queue_depth',
    help: "Messages waiting in each model's task queue (read at scrape time; aggregate with max).",
    labelNames: ['model'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      const depths = await Promise.all(models.map(async (m) => [m, await Promise.resolve(bus.depth(Queues.task(m))).catch(() => null)] as const));
      for (const [model, n] of depths) if (n !== null) this.set({ model }, n);
    },
  });
}

/**
 * Each rule version's record from the store, read at scrape time: jobs it shaped, ratings of
 * those jobs and their average score (`aiproc_rule_jobs`, `aiproc_rule_ratings`,
 * `aiproc_rule_rating_score_average`, labelled rule, version, scope, model, active).
 * @example reportRuleRatings(metrics, store)
 */
export function reportRuleRatings(metrics: Metrics, store: Pick<Store, 'ruleStats'>): void {
  // The registry collects its metrics concurrently: one store read per scrape serves all three.
  let pending: Promise<RuleStats[] | null> | null = null;
  const load = () => {
    pending ??= store
      .ruleStats()
      .catch(() => null)
      .finally(() => setImmediate(() => (pending = null)));
    return pending;
  };
  const gauge = (name: string, help: string, value: (s: RuleStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['rule', 'version', 'scope', 'model', 'active'],
      registers: [metrics.registry],
      async collect() {
        const stats = await load();
        if (!stats) return;
        this.reset();
        for (const s of stats) {
          const v = value(s);
          if (v !== null) this.set({ rule: s.rule.ruleId, version: String(s.rule.version), scope: s.rule.scope, model: s.rule.model, active: String(s.rule.active) }, v);
        }
      },
    });
  gauge('aiproc_rule_jobs', 'Jobs each rule version shaped (from the store, at scrape time).', (s) => s.jobs);
  gauge('aiproc_rule_ratings', 'Ratings of the jobs each rule version shaped (from the store, at scrape time).', (s) => s.ratings);
  gauge('aiproc_rule_rating_score_average', 'Average score (1..10) of the ratings of the jobs each rule version shaped (from the store, at scrape time).', (s) => s.averageScore);
}
