import { lastUserMessage } from '../lib/chat.ts';
import type { ChatMessage } from '../lib/events/index.ts';

const GREETING = /^(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|thanks|thank you|thx|cheers|ok|okay|bye|goodbye)( (there|all|everyone|again|a lot|so much|[a-z]+))?[\s!.,:)]*$/i;
/** Words that join a second request to the first: such a message goes to the planner. */
const JOINS = /\b(and|also|plus|then|as well|both)\b|[;\n]/i;

/**
 * Why a message obviously needs no split (so no planner call), or undefined: a greeting, or one
 * short question (one sentence ending in "?", nothing joined to it). Errs towards the planner:
 * a miss costs one planner call, a wrong guess would lose a split.
 * @example obviouslySingle([{ role: 'user', content: 'hi' }]) // 'a greeting'
 */
export function obviouslySingle(messages: ChatMessage[]): string | undefined {
  const q = lastUserMessage(messages).trim();
  if (GREETING.test(q)) return 'a greeting';
  const sentences = q.split(/(?<=[.!?])\s+/).filter(Boolean);
  if (q.length <= 120 && q.endsWith('?') && sentences.length === 1 && (q.match(/\?/g)?.length ?? 0) === 1 && !JOINS.test(q)) return 'one short question';
  return undefined;
}
