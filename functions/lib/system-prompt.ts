import type { ChatMessage } from './events/schemas.ts';

/**
 * The user's system prompt (OpenWebUI's per-model and per-chat prompts, a client's own): every
 * system message of the conversation, in order. Empty when there is none.
 * @example userSystem([{ role: 'system', content: 'Answer in French.' }, …]) // 'Answer in French.'
 */
export function userSystem(messages: ChatMessage[]): string {
  return messages
    .filter((m) => m.role === 'system')
    .map((m) => m.content.trim())
    .filter(Boolean)
    .join('\n\n');
}

const HOW = {
  planner: "The user's system prompt follows. Keep its constraints (language, tone, format, audience) in every part's prompt, so each part is answered the way the user asked",
  merger: "The user's system prompt follows. What you write must follow it (language, tone, format), as the part answers do",
} as const;

/**
 * Our instructions for a step, with the user's system prompt added for that step to keep to;
 * ours unchanged when the user gave none.
 * @example { role: 'system', content: withUserSystem(mergerSystem, job.messages, 'merger') }
 */
export function withUserSystem(ours: string, messages: ChatMessage[], step: keyof typeof HOW): string {
  const theirs = userSystem(messages);
  return theirs ? `${ours}\n\n${HOW[step]}:\n"""\n${theirs}\n"""` : ours;
}
