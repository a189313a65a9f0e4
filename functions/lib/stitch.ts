/**
 * The layout of a stitched answer, shared by the merger (which stores it) and the splitter's
 * relay (which streams it piece by piece), so the text the client receives and the stored answer
 * are the same string: the opening, each answered part under its title, the closing — the
 * non-empty pieces joined by one blank line — then the note on missing parts.
 */

/** Between two pieces of a stitched answer. */
export const GAP = '\n\n';

/** What comes before a part's answer: its title as a heading (the join between parts). */
export function partHeading(title: string): string {
  return `### ${title}\n\n`;
}

/**
 * The stitched answer. A part without an answer (failed, or empty) is left out; `note` names what is missing.
 * @example stitchAnswer('Two things.', [{ title: 'A', output: 'a' }], 'Done.') // 'Two things.\n\n### A\n\na\n\nDone.'
 */
export function stitchAnswer(opening: string, parts: Array<{ title: string; output: string | null }>, closing: string, note = ''): string {
  const pieces = [opening, ...parts.map((p) => (p.output ? partHeading(p.title) + p.output : '')), closing].filter((p) => p !== '');
  return pieces.join(GAP) + note;
}
