import { randomUUID } from 'node:crypto';
import type { Store } from '../../functions/lib/store/types.ts';

/**
 * A planned job of two parts waiting for their answers (one result does not finish it): part 0
 * for codellama-34b with the prompt "the real prompt", part 1 for codellama-7b.
 * @example const jobId = await seedTwoPartJob(store)
 */
export async function seedTwoPartJob(store: Store): Promise<string> {
  const id = randomUUID();
  await store.createJob({ id, model: 'aiproc', messages: [{ role: 'user', content: 'q' }], owner: 'splitter-test', stream: false, meta: {} });
  await store.setPlan(id, [
    { index: 0, title: 'A', prompt: 'the real prompt', model: 'codellama-34b' },
    { index: 1, title: 'B', prompt: 'b', model: 'codellama-7b' },
  ], false);
  return id;
}
