import type { FunctionContext } from '../lib/context.ts';
import { UpstreamError } from '../lib/errors.ts';
import type { TaskRequested } from '../lib/events/schemas.ts';
import { answerProblem } from '../lib/json-schema.ts';
import { parseArguments } from '../lib/models/ollama-wire.ts';
import type { ChatResult } from '../lib/models/types.ts';

/**
 * Holds a model's answer to what the request asked:
 * - tool calls whose arguments are not a JSON object are not passed on as calls: the client gets
 *   the model's raw text for them, and the log a warning (a client must never crash on them);
 * - `parallel_tool_calls: false` keeps the first call;
 * - structured output must parse and follow the schema, else the attempt fails and is retried
 *   (UpstreamError), and a job whose attempts all fail says why.
 * @example result = checkResult(ctx, jobId, result, event.data)
 */
export function checkResult(ctx: FunctionContext, jobId: string, result: ChatResult, task: TaskRequested): ChatResult {
  let { content, toolCalls } = result;
  if (toolCalls?.length) {
    const good = toolCalls.filter((c) => parseArguments(c.arguments) !== undefined);
    const bad = toolCalls.filter((c) => !good.includes(c));
    if (bad.length) {
      ctx.log.warn({ jobId, calls: bad.map((c) => ({ name: c.name, arguments: c.arguments.slice(0, 500) })) }, 'the model made tool calls with malformed arguments; passing its text on instead');
      content += bad.map((c) => `${content ? '\n' : ''}${JSON.stringify({ name: c.name })}: ${c.arguments}`).join('\n');
    }
    toolCalls = task.parallelToolCalls === false ? good.slice(0, 1) : good;
  }
  if (task.format && !toolCalls?.length) {
    const problem = answerProblem(content, task.format);
    if (problem) throw new UpstreamError(`the model's answer does not follow response_format: ${problem}`);
  }
  const { toolCalls: _, ...rest } = result;
  return { ...rest, content, ...(toolCalls?.length && { toolCalls }) };
}
