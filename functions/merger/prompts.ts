import type { PartView } from '../lib/store/types.ts';

/** The merger's instructions: one answer from the parts' answers, keeping to their content. */
export const mergerSystem =
  'You merge answers. Several assistants each answered one part of the user\'s request. ' +
  'Combine their answers into one complete, well-organised answer to the whole request. ' +
  'Keep to what the part answers say: do not invent facts, do not drop code, do not mention the parts or the assistants.';

/** The user message for the synthesis: the request and each part's answer. */
export function mergerPrompt(question: string, done: PartView[], missing: PartView[]): string {
  const parts = done.map((p) => `### ${p.title}\n${(p.output ?? '').trim()}`).join('\n\n');
  const gap = missing.length
    ? `\n\nThese parts could not be answered; say briefly that they are missing: ${missing.map((p) => p.title).join('; ')}.`
    : '';
  return `Request:\n${question}\n\nPart answers:\n\n${parts}${gap}\n\nWrite the combined answer now.`;
}

/** The line appended to an answer when parts failed, so the gap is always visible whatever the model writes. */
export function missingNote(missing: PartView[]): string {
  if (missing.length === 0) return '';
  const list = missing.map((p) => `part ${p.index + 1} "${p.title}" (${p.error ?? p.status})`).join('; ');
  return `\n\n> Note: this answer is incomplete: ${list} could not be answered.`;
}

/** The merger model's instructions for the joins of a stitched answer (the part answers are shown verbatim). */
export const joinSystem =
  'You merge answers by writing only the short joins between them. Other assistants answer the parts of the user\'s request; ' +
  'their answers are shown to the user word for word. You write only what you are asked for, in plain prose, ' +
  'without headings, without repeating the answers, without mentioning parts or assistants.';

/** The opening: one or two sentences that frame the whole answer, written from the plan before any part is answered. */
export function openingPrompt(question: string, titles: string[]): string {
  return `Request:\n${question}\n\nThe answer will cover, in this order: ${titles.join('; ')}.\n\nWrite one or two sentences that open the answer and say what it covers. Nothing else.`;
}

/** The closing: a few sentences that tie the answers together and settle overlaps or contradictions. */
export function closingPrompt(question: string, done: PartView[], missing: PartView[]): string {
  const parts = done.map((p) => `### ${p.title}\n${clip((p.output ?? '').trim(), 1500)}`).join('\n\n');
  const gap = missing.length ? `\n\nNot answered: ${missing.map((p) => p.title).join('; ')}.` : '';
  return (
    `Request:\n${question}\n\nThe answers the user has just read:\n\n${parts}${gap}\n\n` +
    'Write a closing of at most three sentences: tie the answers together; if they overlap or contradict each other, say so and which to follow. Do not repeat them.'
  );
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)} …`;
}
