import type { ChatMessage } from './events/schemas.ts';

/**
 * Where the last user message stands (what the planner splits); the messages before it are the
 * context every part gets. -1 when there is none.
 * @example const context = messages.slice(0, lastUserIndex(messages))
 */
export function lastUserIndex(messages: ChatMessage[]): number {
  return messages.findLastIndex((m) => m.role === 'user');
}

/** The text of the last user message, or of the last message when no user spoke. */
export function lastUserMessage(messages: ChatMessage[]): string {
  return messages[lastUserIndex(messages)]?.content ?? messages.at(-1)?.content ?? '';
}
