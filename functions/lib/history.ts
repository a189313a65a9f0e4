import { lastUserIndex } from './chat.ts';
import type { ChatMessage } from './events/schemas.ts';

/** About how many tokens of earlier turns the planner and the merger read (4 characters a token). */
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
