import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../lib/errors.ts';

/** The question set that ships with the project. */
export const DEFAULT_QUESTIONS = join(import.meta.dirname, 'questions.jsonl');

const Message = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().min(1) }).strict();

/**
 * One line of a question file: an id, what kind of question it is, and either one `question` or a
 * short conversation (`messages`, ending with the user's turn).
 */
export const QuestionSchema = z
  .object({
    id: z.string().min(1).max(80),
    /** multi: several parts (splitting should help); single: one thing (it should not); followup: a conversation. */
    kind: z.enum(['multi', 'single', 'followup']),
    question: z.string().min(1).optional(),
    messages: z.array(Message).min(1).optional(),
  })
  .strict()
  .refine((q) => (q.question === undefined) !== (q.messages === undefined), { message: 'give exactly one of "question" or "messages"', path: ['question'] })
  .refine((q) => q.messages === undefined || q.messages.at(-1)?.role === 'user', { message: 'the last message must be the user\'s', path: ['messages'] });

export type QuestionLine = z.infer<typeof QuestionSchema>;

export interface Question {
  id: string;
  kind: QuestionLine['kind'];
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
}

/**
 * Parses a JSONL question file; every problem is a ConfigError naming the file and the line.
 * @example const questions = parseQuestions(readFileSync(file, 'utf8'), file)
 */
export function parseQuestions(text: string, origin: string): Question[] {
  const out: Question[] = [];
  const ids = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      // JSON.parse counts from the start of the line: say "column", not its "line 1".
      const why = (err as Error).message.replace(/ at position \d+ \(line \d+ column (\d+)\)/, ' at column $1');
      throw new ConfigError(`${origin} line ${n} is not JSON (the file must have one JSON object per line): ${why}`);
    }
    const r = QuestionSchema.safeParse(raw);
    if (!r.success) {
      const why = r.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ');
      throw new ConfigError(`${origin} line ${n}: ${why}`);
    }
    const q = r.data;
    const before = ids.get(q.id);
    if (before !== undefined) throw new ConfigError(`${origin} line ${n}: id "${q.id}" is already used on line ${before}`);
    ids.set(q.id, n);
    out.push({ id: q.id, kind: q.kind, messages: q.messages ?? [{ role: 'user', content: q.question! }] });
  });
  if (out.length === 0) throw new ConfigError(`${origin} has no questions (one JSON object per line: {"id", "kind", "question"} or {"id", "kind", "messages"})`);
  return out;
}

/**
 * Reads and parses a question file.
 * @example const questions = loadQuestions(DEFAULT_QUESTIONS)
 */
export function loadQuestions(file: string): Question[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the question file ${file}: ${(err as Error).message}`);
  }
  return parseQuestions(text, file);
}


/**
 * The first `n` questions taking the kinds in turn (multi, single, followup, multi, …), so a short
 * check still covers every kind.
 * @example pickQuestions(loadQuestions(DEFAULT_QUESTIONS), 6)
 */
export function pickQuestions(questions: Question[], n: number): Question[] {
  const byKind = new Map<string, Question[]>();
  for (const q of questions) byKind.set(q.kind, [...(byKind.get(q.kind) ?? []), q]);
  const out: Question[] = [];
  for (let i = 0; out.length < Math.min(n, questions.length); i++) {
    for (const list of byKind.values()) if (list[i] && out.length < n) out.push(list[i]!);
  }
  return out;
}
