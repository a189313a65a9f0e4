import type { ModelConfig } from '../lib/config/models.ts';
import type { ChatMessage } from '../lib/events/schemas.ts';

/**
 * The planner's instructions. Written for small models too: short and concrete; the worked
 * examples come as chat turns (`plannerExamples`), which small models copy far better than a
 * description. The output is held to `planSchema` (Ollama `format` / a grammar).
 */
export function plannerSystem(models: ModelConfig[], maxParts: number): string {
  const list = models.map((m) => `- ${m.slug}: ${m.strengths}`).join('\n');
  return [
    "Split the user's request into its separate questions. Copy each question word for word as a part's prompt.",
    `One question gives one part. Use at most ${maxParts} parts. Give each part a short title and the model best suited to it:`,
    list,
    'A part that needs the answer of an earlier part (tests for a function written in another part) lists those parts in "after" (0 = the first part). Independent parts have no "after".',
    'Set "synthesis" to "rewrite" only when the parts overlap so much that one new text is better; otherwise "stitch".',
  ].join('\n');
}

/** Three worked examples as chat turns: a split, a dependent pair, and one not split, in the compact JSON the planner answers with. */
export function plannerExamples(models: ModelConfig[]): ChatMessage[] {
  const slug = (i: number) => models[Math.min(i, models.length - 1)]!.slug;
  const plan = (parts: { title: string; prompt: string; model: string; after?: number[] }[]) => JSON.stringify({ parts, ...(parts.length > 1 && { synthesis: 'stitch' }) });
  return [
    { role: 'user', content: 'What is a monad? And write a Python function to reverse a list.' },
    { role: 'assistant', content: plan([{ title: 'Monads', prompt: 'What is a monad?', model: slug(2) }, { title: 'Reverse a list in Python', prompt: 'Write a Python function to reverse a list.', model: slug(1) }]) },
    { role: 'user', content: 'Write a Python function that parses a date. Then write unit tests for it.' },
    { role: 'assistant', content: plan([{ title: 'Date parser', prompt: 'Write a Python function that parses a date.', model: slug(1) }, { title: 'Tests for the parser', prompt: 'Write unit tests for the date-parsing function.', model: slug(1), after: [0] }]) },
    { role: 'user', content: 'How tall is Mount Everest?' },
    { role: 'assistant', content: plan([{ title: 'Height of Mount Everest', prompt: 'How tall is Mount Everest?', model: slug(0) }]) },
  ];
}

/** The JSON schema the planner's answer must follow. */
export function planSchema(slugs: string[], maxParts: number): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      parts: {
        type: 'array',
        minItems: 1,
        maxItems: maxParts,
        items: {
          type: 'object',
          properties: {
            title: { type: 'string' },
            prompt: { type: 'string' },
            model: { type: 'string', enum: slugs },
            after: { type: 'array', items: { type: 'integer', minimum: 0, maximum: maxParts - 1 }, maxItems: maxParts - 1 },
          },
          required: ['title', 'prompt', 'model'],
        },
      },
      synthesis: { type: 'string', enum: ['stitch', 'rewrite'] },
    },
    required: ['parts'],
  };
}
