import { Hono } from 'hono';
import { z } from 'zod';
import type { FunctionContext } from '../lib/context.ts';
import { BadInputError, NotFoundError } from '../lib/errors.ts';
import { RuleProposedSchema } from '../lib/events/index.ts';
import { allowRoles } from '../lib/http/auth.ts';
import { jsonBody, jsonErrors, parse } from '../lib/http/json-api.ts';
import type { Store } from '../lib/store/types.ts';
import { largestModel } from './configs.ts';
import { DEFAULT_QUESTIONS, loadQuestions, pickQuestions, type Question } from './questions.ts';
import { checkRule, type PrivateRuntime, type RuleCandidate } from './rule-check.ts';

const CheckBody = z
  .object({
    /** A drafted rule, not stored: what n8n's rule drafting sends before proposing it. */
    rule: RuleProposedSchema.pick({ scope: true, model: true, text: true }).strict().optional(),
    /** Or a stored rule's version id (e.g. a proposal waiting for approval). */
    ruleId: z.string().min(1).optional(),
    /** How many of the shipped questions (the kinds taken in turn). */
    questions: z.number().int().min(1).max(100).default(6),
    /** The judge's model slug. @default the largest configured model */
    judge: z.string().min(1).optional(),
    /** max_tokens per answer. @default AIPROC_MAX_TOKENS */
    maxTokens: z.number().int().min(16).optional(),
  })
  .strict()
  .refine((b) => (b.rule === undefined) !== (b.ruleId === undefined), { message: 'give exactly one of "rule" or "ruleId"', path: ['rule'] });

/**
 * The eval API (mounted at `/v1/eval`, behind the API keys, admin keys only): `POST /rule` checks a rule before
 * anyone activates it — the shipped questions through the pipeline with the rule and without,
 * judged in both orders — and answers the tally (`wins` = the rule helped). It runs for as long
 * as the answers take (minutes on real models): callers set a long timeout.
 * @example app.route('/v1/eval', createEvalApi(ctx, { runtime: (store) => privateRuntime(store) }))
 */
export function createEvalApi(ctx: FunctionContext, deps: { runtime: (store: Store) => Promise<PrivateRuntime> }): Hono {
  const app = new Hono();
  const slugs = ctx.config.models.map((m) => m.slug);
  const defaultJudge = largestModel(ctx.config.models.map((m) => ({ slug: m.slug, tag: m.ollama })));
  // The shipped questions, read on the first check (most processes never run one).
  let shipped: Question[] | undefined;
  // A check reads any stored rule and costs many model calls: administrators only, like the rules API.
  app.use('*', allowRoles('admin'));

  app.post('/rule', async (c) => {
    const body = parse(CheckBody, await jsonBody(c), 'body');
    if (body.judge && !slugs.includes(body.judge)) throw new BadInputError(`body.judge: "${body.judge}" is not a configured model (${slugs.join(', ')})`, { param: 'judge' });
    let rule: RuleCandidate;
    if (body.rule) {
      rule = body.rule;
    } else {
      const found = (await ctx.store.listRules()).find((r) => r.id === body.ruleId);
      if (!found) throw new NotFoundError(`no rule version ${body.ruleId}`);
      rule = found;
    }
    const judge = body.judge ?? defaultJudge;
    shipped ??= loadQuestions(DEFAULT_QUESTIONS);
    const questions = pickQuestions(shipped, body.questions);
    ctx.log.info({ scope: rule.scope, model: rule.model, questions: questions.length, judge }, 'eval: checking a rule');
    const run = await checkRule(ctx, rule, { questions, judge, runtime: deps.runtime, ...(body.maxTokens !== undefined && { maxTokens: body.maxTokens }) });
    return c.json({
      object: 'eval.tally',
      rule: { scope: rule.scope, model: rule.model, text: rule.text, ...(rule.id && { id: rule.id }) },
      a: run.a.label,
      b: run.b.label,
      judge: run.judge,
      ...run.tally,
      results: run.results.map((r) => ({
        id: r.question.id,
        kind: r.question.kind,
        verdict: r.verdict,
        withRuleMs: Math.round(r.a.wallMs),
        withoutMs: Math.round(r.b.wallMs),
        ...((r.a.error || r.b.error) && { errors: { withRule: r.a.error ?? null, without: r.b.error ?? null } }),
      })),
    });
  });
  jsonErrors(app, ctx.log, 'eval API');
  return app;
}
