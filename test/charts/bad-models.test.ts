import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configWith, ROOT } from './support.ts';

const good = JSON.parse(readFileSync(join(ROOT, 'models.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'aiproc-bad-models-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** models.json with one change applied to a copy. */
function variant(change: (cfg: any) => void): any {
  const cfg = structuredClone(good);
  change(cfg);
  return cfg;
}

/** Runs the cdk8s app on a models file, as `npm run synth` does, into a scratch folder. */
function synthWith(models: unknown, env: Record<string, string> = {}) {
  const file = join(tmp, `models-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(models));
  return spawnSync(process.execPath, ['charts/main.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, AIPROC_MODELS_FILE: file, CDK8S_OUTDIR: join(tmp, 'dist'), ...env },
  });
}

const second = good.models[1].slug as string;

const cases: Array<[string, (cfg: any) => void, RegExp]> = [
  ['a duplicate slug', (c) => (c.models[1].slug = c.models[0].slug), new RegExp(`model ${good.models[0].slug}: slug: duplicate slug`)],
  ['a max-scale below the min-scale', (c) => Object.assign(c.models[1].scaling, { min: 2, max: 1 }), new RegExp(`model ${second}: scaling\\.max: max must be at least min`)],
  ['an unknown GPU setting (a word)', (c) => (c.models[1].scaling.gpu = 'yes'), new RegExp(`model ${second}: scaling\\.gpu:`)],
  ['an unknown GPU setting (a fraction)', (c) => (c.models[1].scaling.gpu = 0.5), new RegExp(`model ${second}: scaling\\.gpu:`)],
  ['an unknown GPU field', (c) => (c.models[1].scaling.gpus = 1), new RegExp(`model ${second}: scaling:.*gpus`)],
  ['a min-scale of zero (the cluster keeps one pod per model)', (c) => (c.models[1].scaling.min = 0), new RegExp(`model ${second}: scaling\\.min: must be at least 1`)],
  ['more deliveries than a source allows', (c) => Object.assign(c.models[1].scaling, { max: 200, concurrency: 8 }), new RegExp(`model ${second}: scaling\\.max: .*1000`)],
];

describe('a bad models config fails synth with a message naming the model and the field', () => {
  for (const [what, change, message] of cases) {
    it(what, () => {
      // GIVEN models.json with the mistake
      const bad = variant(change);
      // WHEN the charts are synthesised from it
      const r = synthWith(bad);
      // THEN synth fails and says which model and which field
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('a models selection that leaves out the planner, or names an unknown slug', () => {
    // GIVEN a selection of models to deploy
    // WHEN it misses the planner's model and names one that does not exist
    // THEN the config is refused, saying so
    assert.throws(() => configWith({ AIPROC_MODELS: `${second},nope` }), (err: Error) => {
      assert.match(err.message, /AIPROC_MODELS: "nope" is not a configured model slug/);
      assert.match(err.message, new RegExp(`AIPROC_MODELS: leaves out ${good.planner}, the planner model`));
      return true;
    });
  });

  it('the good config synthesises (the failures above are about the mistakes)', () => {
    const r = synthWith(good);
    assert.equal(r.status, 0, r.stderr);
  });
});
