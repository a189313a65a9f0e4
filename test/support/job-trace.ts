import assert from 'node:assert/strict';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.ts';
import { waitFor } from './wait.ts';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/**
 * Checks that a job split into `parts` parts is one trace, parented hop by hop: the HTTP request
 * (server span, root) → the planner's model call and one `send task.requested` per part →
 * `process task.requested` (child of its send) → the part's model call and `send task.completed`
 * → `process task.completed` → the synthesis' model calls and `send job.completed` →
 * `process job.completed` back in the splitter. Model calls carry the GenAI attributes.
 * Returns the trace's spans.
 * @example const spans = assertJobTrace(otlp.spans, jobId, 3)
 */
export function assertJobTrace(all: ReceivedSpan[], jobId: string, parts: number): ReceivedSpan[] {
  const root = all.find((s) => s.kind === SERVER && s.attributes['aiproc.job.id'] === jobId);
  assert.ok(root, `a server span for job ${jobId} among ${all.map((s) => s.name).join(', ')}`);
  assert.equal(root.name, 'POST /v1/chat/completions');
  assert.equal(root.parentSpanId, '', 'the request is the root');
  const spans = all.filter((s) => s.traceId === root.traceId);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId);
  for (const s of spans) if (s !== root) assert.ok(parentOf(s), `span "${s.name}" (${s.service}) has its parent in the trace`);
  const named = (name: string) => spans.filter((s) => s.name === name);

  const chats = spans.filter((s) => s.kind === CLIENT && s.attributes['gen_ai.operation.name'] === 'chat');
  // The synthesis is one call (rewrite) or the joins of a stitched answer (opening, closing): at least one.
  assert.ok(chats.length >= 1 + parts + 1, `planner, ${parts} parts, synthesis: ${chats.map((s) => s.name).join(', ')}`);
  for (const c of chats) {
    assert.equal(c.name, `chat ${c.attributes['gen_ai.request.model']}`);
    assert.ok(Number(c.attributes['gen_ai.usage.input_tokens']) > 0, `${c.name}: input tokens`);
    assert.ok(Number(c.attributes['gen_ai.usage.output_tokens']) > 0, `${c.name}: output tokens`);
    assert.equal(c.attributes['gen_ai.provider.name'], 'ollama');
  }
  const planner = chats.find((c) => parentOf(c) === root);
  assert.ok(planner, 'the planner call is a child of the request');
  assert.equal(planner.attributes['gen_ai.output.type'], 'json');

  const sends = named('send task.requested');
  assert.equal(sends.length, parts);
  for (const send of sends) {
    assert.equal(send.kind, PRODUCER);
    assert.equal(parentOf(send), root, 'each part is sent from the request');
    const processed = spans.filter((s) => s.name === 'process task.requested' && s.parentSpanId === send.spanId);
    assert.equal(processed.length, 1, 'one delivery per part, child of its send across the queue');
    const p = processed[0]!;
    assert.equal(p.kind, CONSUMER);
    assert.equal(p.attributes['aiproc.part.index'], send.attributes['aiproc.part.index']);
    const children = spans.filter((s) => s.parentSpanId === p.spanId);
    assert.ok(children.some((c) => c.kind === CLIENT && c.attributes['gen_ai.request.model'] === chats.find((x) => x.parentSpanId === p.spanId)?.attributes['gen_ai.request.model']), 'the part\'s model call');
    const done = children.find((c) => c.name === 'send task.completed');
    assert.ok(done, 'the part\'s result is sent from its delivery');
    assert.equal(spans.filter((s) => s.name === 'process task.completed' && s.parentSpanId === done.spanId).length, 1, 'the merger handles it, child of its send');
  }
  const jobDone = named('send job.completed');
  assert.equal(jobDone.length, 1, 'one job.completed');
  assert.equal(parentOf(jobDone[0]!)!.name, 'process task.completed', 'the answer is sent from the merger\'s handling of a part');
  // The synthesis: one call (rewrite), or a stitched answer's joins: the opening, written by the
  // splitter once the plan is out, and the closing, written by the merger with the last part.
  const partCalls = chats.filter((c) => parentOf(c)?.name === 'process task.requested');
  assert.equal(partCalls.length, parts, 'one model call per part, in its delivery');
  const joins = chats.filter((c) => c !== planner && !partCalls.includes(c));
  assert.ok(joins.length >= 1, 'the synthesis calls the merger model');
  for (const j of joins) assert.ok(['POST /v1/chat/completions', 'process task.completed'].includes(parentOf(j)!.name), `${j.name} sits in the request or in the merger's handling of a result, not in ${parentOf(j)!.name}`);
  const merged = joins.filter((j) => parentOf(j)!.name === 'process task.completed');
  assert.ok(merged.length >= 1, 'the merger writes (part of) the answer when the results are in');
  // Calls that stream (stitched: the first part, written live; rewrite: the synthesis) mark their first token.
  const streamed = chats.filter((c) => c.events.includes('gen_ai.first_token'));
  assert.ok(streamed.length >= 1, 'a streamed call has its first token marked');
  for (const c of streamed) assert.ok(Number(c.attributes['gen_ai.response.time_to_first_chunk']) >= 0, `${c.name}: gen_ai.response.time_to_first_chunk`);
  const reply = named('process job.completed');
  assert.equal(reply.length, 1);
  assert.equal(reply[0]!.parentSpanId, jobDone[0]!.spanId, 'the splitter receives the answer, child of its send');
  assert.equal(reply[0]!.service, root.service, 'in the splitter that took the request');
  return spans;
}

/**
 * Waits until a job's trace has arrived whole: its request span, and every exported span's parent.
 * The request can end before the merger's handling of the last part does (the answer is sent
 * from inside it), so the request span alone is not enough.
 * @example await waitForJobTrace(otlp, jobId)
 */
export async function waitForJobTrace(otlp: OtlpReceiver, jobId: string, timeoutMs = 30_000): Promise<void> {
  const rootOf = () => otlp.spans.find((s) => s.kind === SERVER && s.attributes['aiproc.job.id'] === jobId);
  await waitFor('the request span to be exported', () => rootOf() !== undefined, timeoutMs);
  await waitFor('the trace to be whole', () => {
    const root = rootOf()!;
    const trace = otlp.spans.filter((s) => s.traceId === root.traceId);
    const ids = new Set(trace.map((s) => s.spanId));
    return trace.every((s) => s === root || ids.has(s.parentSpanId));
  }, timeoutMs);
}

/**
 * Asks `baseUrl` for a three-topic job, forced to the rewrite (the shape assertJobTrace checks: one
 * streamed synthesis call after the parts), reads the answer and waits for its whole trace.
 * @example const jobId = await askForJobTrace(app.url, otlp)
 */
export async function askForJobTrace(baseUrl: string, otlp: OtlpReceiver): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Aiproc-Synthesis': 'rewrite' },
    body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'Tell me about three topics.' }], stream: true }),
  });
  const jobId = res.headers.get('x-request-id')!;
  await res.text();
  await waitForJobTrace(otlp, jobId);
  return jobId;
}
