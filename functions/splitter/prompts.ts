import type { ModelConfig } from '../lib/config/models.ts';

/**
 * The planner's instructions. Written for small models too: short, concrete, one example.
 * The output is held to `planSchema` (Ollama `format` / a grammar), so the prompt only has to
 * explain the choice, not the syntax.
 */
export function plannerSystem(models: ModelConfig[], maxParts: number): string {
  const list = models.map((m) => `- ${m.slug}: ${m.strengths}`).join('\n');
  return [
    'You plan how to answer a user request. Split it into independent parts only when it asks several distinct things;',
    `otherwise use exactly one part. Use at most ${maxParts} parts.`,
    'Each part has a short title, a self-contained prompt that can be answered without seeing the other parts,',
    'and the model best suited to it, chosen from this list:',
    list,
    '',
    'Example: "What is a monad, and write a Python function to reverse a list" becomes two parts:',
    '{"parts":[{"title":"Monads","prompt":"Explain what a monad is in functional programming.","model":"<a model>"},',
    '{"title":"Reverse a list in Python","prompt":"Write a Python function that reverses a list.","model":"<a model>"}]}',
    'Answer with the JSON object only.',
  ].join('\n');
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
