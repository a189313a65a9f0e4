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
  ].join('\n');
}

/** Two worked examples as chat turns, one split and one not, in the compact JSON the planner answers with. */
export function plannerExamples(models: ModelConfig[]): ChatMessage[] {
  const slug = (i: number) => models[Math.min(i, models.length - 1)]!.slug;
  const plan = (parts: { title: string; prompt: string; model: string }[]) => JSON.stringify({ parts });
  return [
    { role: 'user', content: 'What is a monad? And write a Python function to reverse a list.' },
    { role: 'assistant', content: plan([{ title: 'Monads', prompt: 'What is a monad?', model: slug(2) }, { title: 'Reverse a list in Python', prompt: 'Write a Python function to reverse a list.', model: slug(1) }]) },
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
          },
          required: ['title', 'prompt', 'model'],
        },
      },
    },
    required: ['parts'],
  };
}
