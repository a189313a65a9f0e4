import type { ModelClient } from '../lib/models/types.ts';
import type { Question } from './questions.ts';

/** What one judging (one order) said: which shown answer is better, or nothing usable. */
export type Said = '1' | '2' | 'tie';
/** The verdict for a pair, from A's side. */
export type Verdict = 'win' | 'tie' | 'loss';

/** Asks the judge model; returns its text. `format` is a JSON schema the backend may enforce. */
export type AskJudge = (messages: { role: 'system' | 'user'; content: string }[], format: Record<string, unknown>) => Promise<string>;

export const VERDICT_SCHEMA = {
  type: 'object',
  properties: { winner: { type: 'string', enum: ['1', '2', 'tie'] }, reason: { type: 'string' } },
  required: ['winner', 'reason'],
} as const;

const SYSTEM = [
  'You are a strict, fair judge. Two answers to the same conversation follow.',
  'Compare them on correctness first, then completeness (every part of the question answered), then code quality (when there is code: it runs, handles edge cases, is clear).',
  'Length, style and the order in which the answers are shown do not matter.',
  'Reply with JSON only: {"winner": "1" or "2" or "tie", "reason": "one sentence"}.',
].join('\n');

/**
 * The judge's prompt for one order of the two answers.
 * @example judgeMessages(question, answerA, answerB) // A shown as answer 1
 */
export function judgeMessages(q: Question, first: string, second: string): { role: 'system' | 'user'; content: string }[] {
  const conversation = q.messages.map((m) => `${m.role.toUpperCase()}: ${m.content}`).join('\n\n');
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: `## Conversation\n${conversation}\n\n## Answer 1\n${first || '(empty)'}\n\n## Answer 2\n${second || '(empty)'}\n\nWhich answer is better? JSON only.` },
  ];
}

/**
 * Reads a verdict out of a judge's reply: the JSON asked for, or failing that a plain
 * "winner: 2" / "Answer 1 is better"; null when it says nothing usable.
 * @example parseVerdict('{"winner":"2","reason":"…"}') // { said: '2', reason: '…' }
 */
export function parseVerdict(text: string): { said: Said; reason: string } | null {
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  if (json) {
    try {
      const v = JSON.parse(json) as { winner?: unknown; reason?: unknown };
      const w = String(v.winner ?? '').trim().toLowerCase().replace(/^answer\s*/, '');
      if (w === '1' || w === '2' || w === 'tie') return { said: w, reason: typeof v.reason === 'string' ? v.reason : '' };
    } catch {
      // not JSON after all: try the words below
    }
  }
  const m = /winner\W{0,5}(1|2|tie)\b/i.exec(text) ?? /\banswer\s*(1|2)\s+is\s+better/i.exec(text);
  return m ? { said: m[1]!.toLowerCase() as Said, reason: text.trim().slice(0, 300) } : null;
}

export interface Judgement {
  verdict: Verdict;
  /** What each order said: [A shown first, B shown first]; null = no verdict (counted as a tie). */
  orders: [OrderResult, OrderResult];
}

export interface OrderResult {
  said: Said | null;
  reason: string;
  /** The judge's raw reply when it was not a verdict (or the error when it failed). */
  raw?: string;
}

async function judgeOnce(ask: AskJudge, q: Question, first: string, second: string): Promise<OrderResult> {
  let text: string;
  try {
    text = await ask(judgeMessages(q, first, second), VERDICT_SCHEMA as unknown as Record<string, unknown>);
  } catch (err) {
    return { said: null, reason: '', raw: `the judge failed: ${(err as Error).message}` };
  }
  const v = parseVerdict(text);
  return v ? { said: v.said, reason: v.reason } : { said: null, reason: '', raw: text.slice(0, 500) };
}

/**
 * Judges A against B in both orders, so position bias cancels: A wins only when both orders
 * prefer it; any disagreement (or a reply that is no verdict) is a tie.
 * @example const { verdict } = await judgePair(ask, question, aiprocAnswer, baselineAnswer)
 */
export async function judgePair(ask: AskJudge, q: Question, a: string, b: string, onStep: () => void = () => {}): Promise<Judgement> {
  const ab = await judgeOnce(ask, q, a, b);
  onStep();
  const ba = await judgeOnce(ask, q, b, a);
  onStep();
  const first = ab.said === '1' ? 'win' : ab.said === '2' ? 'loss' : 'tie';
  const second = ba.said === '2' ? 'win' : ba.said === '1' ? 'loss' : 'tie';
  return { verdict: ab.said && ba.said && first === second ? first : 'tie', orders: [ab, ba] };
}

/**
 * The judge as a direct call to a model client (no pipeline, no rules), held to the verdict's
 * JSON schema (Ollama `format`, a grammar on the embedded engine).
 * @example const ask = modelJudge(ctx.model, ollamaTag(ctx.config, 'codellama-70b'))
 */
export function modelJudge(client: ModelClient, tag: string, maxTokens = 256): AskJudge {
  return async (messages, format) => (await client.chat({ model: tag, messages, format, temperature: 0, maxTokens })).content;
}
