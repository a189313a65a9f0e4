import type { RuleScope, RuleView, Store } from './store/types.ts';

/**
 * Active rules per (scope, model), cached briefly so a busy function does not query the store
 * for every prompt; `invalidate()` (on a rule event) makes the next read fresh.
 * @example const rules = new RulesCache(store, 5000); await rules.get('merger', 'codellama-7b')
 */
export class RulesCache {
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { at: number; rules: Promise<RuleView[]> }>();

  constructor(store: Store, ttlMs = 5000) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  get(scope: RuleScope, model: string): Promise<RuleView[]> {
    const key = `${scope}\u0000${model}`;
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.rules;
    const rules = this.#store.activeRules(scope, model);
    this.#entries.set(key, { at: Date.now(), rules });
    rules.catch(() => this.#entries.delete(key));
    return rules;
  }

  invalidate(): void {
    this.#entries.clear();
  }
}

/**
 * The system-prompt block for a set of rules, or '' when there are none.
 * @example systemWithRules('You merge answers.', rules)
 */
export function systemWithRules(base: string, rules: RuleView[]): string {
  if (rules.length === 0) return base;
  return `${base}\n\nFollow these rules:\n${rules.map((r) => `- ${r.text}`).join('\n')}`;
}
