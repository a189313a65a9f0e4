import type { ChatMessage } from '../lib/events/schemas.ts';
import { recentTurns } from '../lib/history.ts';

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
