import type OpenAI from 'openai';
import { answer, type Answer } from './answer.ts';
import type { Configuration } from './configs.ts';
import { judgePair, type AskJudge, type Judgement, type Verdict } from './judge.ts';
import type { Question } from './questions.ts';

export interface QuestionResult {
  question: Question;
  a: Answer;
  b: Answer;
  /** Null when an answer failed and the judge was not asked. */
  judgement: Judgement | null;
  /** From A's side. */
  verdict: Verdict;
}

export interface Tally {
  questions: number;
  wins: number;
  ties: number;
  losses: number;
  /** Judge replies that were no verdict (each counted as a tie for its pair). */
  invalidVerdicts: number;
  /** Answers that failed (the other side wins; both failed: a tie). */
  failedAnswers: number;
}

export interface EvalRun {
  a: Configuration;
  b: Configuration;
  judge: string;
  backend: string;
  startedAt: string;
  results: QuestionResult[];
  tally: Tally;
}

/** Steps one question takes (two answers, two judgings): for a progress bar. */
export const STEPS_PER_QUESTION = 4;

/**
 * Adds up the verdicts.
 * @example tally(results) // { questions: 3, wins: 1, ties: 2, losses: 0, … }
 */
export function tally(results: QuestionResult[]): Tally {
  const t: Tally = { questions: results.length, wins: 0, ties: 0, losses: 0, invalidVerdicts: 0, failedAnswers: 0 };
  for (const r of results) {
    t[r.verdict === 'win' ? 'wins' : r.verdict === 'loss' ? 'losses' : 'ties']++;
    t.invalidVerdicts += r.judgement?.orders.filter((o) => o.said === null).length ?? 0;
    t.failedAnswers += Number(r.a.error !== undefined) + Number(r.b.error !== undefined);
  }
  return t;
}

export interface RunOptions {
  questions: Question[];
  a: Configuration;
  b: Configuration;
  /** The aiproc API each side is asked through (one server for both, or a pipeline each). */
  client: (side: 'a' | 'b') => OpenAI;
  judge: AskJudge;
  judgeName: string;
  backend: string;
  /** max_tokens per answer; the server's cap when unset. */
  maxTokens?: number;
  /** Called after each step, with what comes next. */
  onStep?: (done: string) => void;
}

/**
 * Runs every question through A and B (one after the other, alternating which goes first so
 * neither always meets a warm cache), then has the judge compare the two answers in both orders.
 * @example const run = await runEval({ questions, a, b, client: () => client, judge, judgeName: 'codellama-70b', backend: 'ollama' })
 */
export async function runEval(opts: RunOptions): Promise<EvalRun> {
  const startedAt = new Date().toISOString();
  const step = opts.onStep ?? (() => {});
  const results: QuestionResult[] = [];
  for (const [i, q] of opts.questions.entries()) {
    const order = i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
    const got: Partial<Record<'a' | 'b', Answer>> = {};
    for (const side of order) {
      got[side] = await answer(opts.client(side), opts[side], q, opts.maxTokens);
      step(`${q.id}: ${opts[side].label} answered`);
    }
    const a = got.a!;
    const b = got.b!;
    let judgement: Judgement | null = null;
    let verdict: Verdict;
    if (a.error || b.error) {
      verdict = a.error && b.error ? 'tie' : a.error ? 'loss' : 'win';
      step(`${q.id}: not judged (an answer failed)`);
      step(`${q.id}: not judged`);
    } else {
      judgement = await judgePair(opts.judge, q, a.content, b.content, () => step(`${q.id}: judged`));
      verdict = judgement.verdict;
    }
    results.push({ question: q, a, b, judgement, verdict });
  }
  return { a: opts.a, b: opts.b, judge: opts.judgeName, backend: opts.backend, startedAt, results, tally: tally(results) };
}
