import type { Tally } from '../../functions/eval/run.ts';
import type { Backend } from './backend.ts';

/** What `POST /v1/eval/rule` answers. */
export interface RuleTally extends Tally {
  object: 'eval.tally';
  rule: { scope: string; model: string; text: string; id?: string };
  judge: string;
  results: { id: string; verdict: 'win' | 'tie' | 'loss'; withRuleMs: number; withoutMs: number }[];
}

/**
 * `npm run eval -- --rule <version id>`: asks the server's rule check (the shipped questions with
 * the rule and without) and prints its tally, the last line one JSON object like the eval's.
 * @example await checkRuleCommand(backend, { ruleId, questions: 6 })
 */
export async function checkRuleCommand(backend: Backend, opts: { ruleId: string; questions: number; judge?: string; maxTokens?: number }): Promise<RuleTally> {
  process.stderr.write(`eval: checking rule ${opts.ruleId} on ${opts.questions} questions, on ${backend.describe} (this takes as long as ${opts.questions * 4} answers)…\n`);
  const t = (await backend.client.post('/eval/rule', {
    body: { ruleId: opts.ruleId, questions: opts.questions, ...(opts.judge && { judge: opts.judge }), ...(opts.maxTokens !== undefined && { maxTokens: opts.maxTokens }) },
  })) as RuleTally;
  const mark = { win: '+', tie: '=', loss: '-' } as const;
  process.stdout.write(
    [
      `rule (${t.rule.scope}, ${t.rule.model}): ${t.rule.text}`,
      ...t.results.map((r) => `  ${mark[r.verdict]}  ${r.id}  (with ${(r.withRuleMs / 1000).toFixed(1)} s, without ${(r.withoutMs / 1000).toFixed(1)} s)`),
      `with the rule better ${t.wins}, ties ${t.ties}, worse ${t.losses}, of ${t.questions} (judge ${t.judge})`,
      JSON.stringify({ questions: t.questions, wins: t.wins, ties: t.ties, losses: t.losses, invalidVerdicts: t.invalidVerdicts, failedAnswers: t.failedAnswers, rule: opts.ruleId, judge: t.judge }),
    ].join('\n') + '\n',
  );
  return t;
}
