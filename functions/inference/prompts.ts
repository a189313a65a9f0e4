import type { Dependency, OutputFormat, ToolChoice } from '../lib/events/schemas.ts';
import { toolChoiceNote } from '../lib/models/ollama-wire.ts';

/**
 * The system prompt for one part: answer it alone, fully, without mentioning the other parts;
 * with structured output, JSON only (the format holds the model to it; saying so helps small
 * models); with a tool_choice Ollama cannot enforce, the choice in words.
 */
export function partSystem(total: number, opts: { format?: OutputFormat | undefined; toolChoice?: ToolChoice | undefined } = {}): string {
  const base =
    total > 1
      ? 'You answer one part of a larger request. Answer this part fully and directly; do not mention other parts.'
      : 'You are a helpful assistant. Answer the request fully and directly.';
  const extra = [
    opts.format === 'json' ? 'Answer with one JSON object and nothing else.' : opts.format ? `Answer with JSON that follows this schema, and nothing else: ${JSON.stringify(opts.format)}` : undefined,
    toolChoiceNote(opts.toolChoice),
  ].filter(Boolean);
  return [base, ...extra].join(' ');
}

/**
 * A dependent part's prompt: the answers it depends on first, then what it asks. A dependency
 * that failed is named with its reason, so the part can still answer what it can.
 * @example withDependencies('Write tests for it.', [{ index: 0, title: 'Function', output: 'def f(): …' }])
 */
export function withDependencies(prompt: string, deps: Dependency[]): string {
  if (deps.length === 0) return prompt;
  const blocks = deps.map((d) =>
    d.output !== null ? `### ${d.title}\n${d.output.trim()}` : `### ${d.title}\n(no answer: this part failed${d.error ? `: ${d.error}` : ''}; answer without it as well as you can)`,
  );
  return `This builds on earlier parts of the same request, answered as follows:\n\n${blocks.join('\n\n')}\n\nNow: ${prompt}`;
}
