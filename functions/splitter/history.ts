import { lastUserIndex } from '../lib/chat.ts';
import type { ChatMessage } from '../lib/events/schemas.ts';

/** About how many tokens of earlier turns the planner reads (4 characters a token). */
export const HISTORY_TOKENS = 1500;
/** One turn is cut to this many characters: a long earlier answer must not crowd out the rest. */
const TURN_CHARS = 2000;

/**
 * The conversation before the last user message, most recent turns first within `tokens`
 * (about 4 characters each), oldest first in the result; system messages are left to the caller.
 * @example recentTurns(messages) // [{ role: 'user', … }, { role: 'assistant', … }]
 */
export function recentTurns(messages: ChatMessage[], tokens = HISTORY_TOKENS): ChatMessage[] {
  const before = messages.slice(0, Math.max(0, lastUserIndex(messages))).filter((m) => m.role !== 'system');
  let budget = tokens * 4;
  const out: ChatMessage[] = [];
  for (const m of before.reverse()) {
    const content = m.content.length > TURN_CHARS ? `${m.content.slice(0, TURN_CHARS)} …` : m.content;
    if (content.length > budget) break;
    budget -= content.length;
    out.unshift({ role: m.role, content });
  }
  return out;
}

/**
 * What the planner is asked to split: the last request alone, or, in a conversation, the recent
 * turns and then the request, so a follow-up ("now make that function use generators") is planned
 * knowing what it refers to.
 */
export function plannerRequest(messages: ChatMessage[], question: string): string {
  const turns = recentTurns(messages);
  if (turns.length === 0) return question;
  const lines = turns.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`);
  return `Earlier in this conversation:\n${lines.join('\n\n')}\n\nThe request to split (write each part's prompt so it stands on its own, naming what "it" or "that" refers to):\n${question}`;
}
