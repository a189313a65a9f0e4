import { existsSync } from 'node:fs';
import { ensureTestModel, testModelPath } from '../../scripts/test-model.ts';

/**
 * The path of the small real GGUF (SmolLM2-135M-Instruct) the real-model tests use; fetched by
 * `npm test`'s pretest step, or here on first use when a single test file is run by hand.
 * @example const gguf = await testModel()
 */
export async function testModel(): Promise<string> {
  const path = testModelPath();
  return existsSync(path) ? path : ensureTestModel();
}

/**
 * The per-test limit for tests that run the real model: `npm test`'s 120 s is plenty on a quiet
 * machine (CI), but a developer running other suites beside it on two cores can see one answer
 * take minutes. The assertions are about what the model does, never how fast.
 * @example before(load, REAL_MODEL); test('answers', REAL_MODEL, async () => { … })
 */
export const REAL_MODEL = { timeout: 600_000 } as const;
