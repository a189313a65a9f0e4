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
