import { randomUUID } from 'node:crypto';
import type { PlanPart } from '../../functions/lib/events/schemas.ts';
import type { NewJob, PartResult, Store } from '../../functions/lib/store/types.ts';

// Builders for the store tests: a job, a plan, a part result.

export const usage = (p: number, c: number) => ({ promptTokens: p, completionTokens: c });

export function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    model: 'aiproc',
    messages: [{ role: 'user', content: 'Explain TCP and write a haiku about it.' }],
    owner: 'splitter-1',
    stream: true,
    meta: { user: 'ada', chatId: `chat-${randomUUID()}`, messageId: `msg-${randomUUID()}` },
    ...over,
  };
}

export function plan(n: number): PlanPart[] {
  return Array.from({ length: n }, (_, i) => ({ index: i, title: `Part ${i}`, prompt: `Do part ${i}`, model: i % 2 ? 'codellama-7b' : 'llama3-8b' }));
}

export function result(jobId: string, index: number, over: Partial<PartResult> = {}): PartResult {
  return {
    jobId, index, status: 'completed', output: `answer ${index}`, usage: usage(10, 20),
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.500Z', attempts: 1, ...over,
  };
}

/** A job with a plan of `n` parts, ready for results. */
export async function plannedJob(store: Store, n: number, over: Partial<NewJob> = {}): Promise<string> {
  const job = newJob(over);
  await store.createJob(job);
  await store.setPlan(job.id, plan(n), n === 1, usage(5, 7));
  return job.id;
}
