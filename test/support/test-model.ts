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
