import OpenAI from 'openai';
import { ollamaTag } from '../lib/config/models.ts';
import type { FunctionContext } from '../lib/context.ts';
import type { RuleScope, RuleView, Store } from '../lib/store/types.ts';
import type { Configuration } from './configs.ts';
import { modelJudge } from './judge.ts';
import type { Question } from './questions.ts';
import { runEval, type EvalRun } from './run.ts';

/** A rule to try: one stored (any state), or only its text. */
export interface RuleCandidate {
  scope: RuleScope;
  model: string;
  text: string;
  /** A stored rule's version id; absent for a draft that is not stored. */
  id?: string;
}

/** A pipeline of its own, reachable only in this process (no port), to ask questions of. */
export interface PrivateRuntime {
  fetch(req: Request): Response | Promise<Response>;
  close(): Promise<void>;
}

const DRAFT_ID = 'eval-draft-rule';

/**
 * The store as the pipeline sees it with the candidate rule active (`with`) or not active
 * (`without`); every other call goes to the real store. Jobs of the check never credit the
 * candidate (its id is left out of recordRulesApplied).
 */
export function storeWithRule(store: Store, rule: RuleCandidate, mode: 'with' | 'without'): Store {
  const id = rule.id ?? DRAFT_ID;
  const view: RuleView = { id, ruleId: id, version: 0, scope: rule.scope, model: rule.model, text: rule.text, reason: null, origin: 'api', active: true, createdAt: new Date(0).toISOString() };
  const overrides = {
    async activeRules(scope: RuleScope, model: string) {
      const rules = (await store.activeRules(scope, model)).filter((r) => r.id !== id);
      return mode === 'with' && scope === rule.scope && (rule.model === '*' || rule.model === model) ? [...rules, view] : rules;
    },
    async recordRulesApplied(jobId: string, ids: string[]) {
      const kept = ids.filter((x) => x !== id);
      if (kept.length) await store.recordRulesApplied(jobId, kept);
    },
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof typeof overrides];
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function clientFor(rt: PrivateRuntime): OpenAI {
  return new OpenAI({ baseURL: 'http://aiproc.eval/v1', apiKey: 'in-process', maxRetries: 0, fetch: (url, init) => Promise.resolve(rt.fetch(new Request(url, init))) });
}

/**
 * Is the pipeline better with this rule? Runs the questions through two private pipelines on
 * this process's model and store, one with the rule active (A) and one with it not (B), and has
 * the judge compare the answers. `wins` = the rule helped.
 * @example const run = await checkRule(ctx, candidate, { questions, judge: 'codellama-70b', runtime })
 */
export async function checkRule(
  ctx: FunctionContext,
  rule: RuleCandidate,
  opts: { questions: Question[]; judge: string; maxTokens?: number; runtime: (store: Store) => Promise<PrivateRuntime> },
): Promise<EvalRun> {
  const withIt = await opts.runtime(storeWithRule(ctx.store, rule, 'with'));
  const without = await opts.runtime(storeWithRule(ctx.store, rule, 'without')).catch(async (err: unknown) => {
    await withIt.close();
    throw err;
  });
  try {
    const a: Configuration = { label: 'with the rule', model: 'aiproc', headers: {} };
    const b: Configuration = { label: 'active rules', model: 'aiproc', headers: {} };
    const clients = { a: clientFor(withIt), b: clientFor(without) };
    return await runEval({
      questions: opts.questions,
      a,
      b,
      client: (side) => clients[side],
      judge: modelJudge(ctx.model, ollamaTag(ctx.config, opts.judge)),
      judgeName: opts.judge,
      backend: ctx.model.describe(),
      ...(opts.maxTokens !== undefined && { maxTokens: opts.maxTokens }),
    });
  } finally {
    await Promise.all([withIt.close(), without.close()]);
  }
}
