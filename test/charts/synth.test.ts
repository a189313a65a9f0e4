import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { generateSecretValues } from '../../charts/secrets.ts';
import { ROOT } from './support.ts';

const tmp = mkdtempSync(join(tmpdir(), 'aiproc-synth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** `cdk8s synth` (what `npm run synth` runs), Node 24 first on PATH as npm puts it. */
function cdk8sSynth(out: string, env: Record<string, string> = {}) {
  const bin = join(ROOT, 'node_modules', '.bin');
  const r = spawnSync(join(bin, 'cdk8s'), ['synth', '--no-check-upgrade', '--output', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}`, ...env },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const files = readdirSync(out).sort();
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(out, f), 'utf8')]));
}

describe('cdk8s synth', () => {
  // GIVEN secret values where a careless chart could pick them up: the environment of the synth
  const secrets = generateSecretValues();
  const first = cdk8sSynth(join(tmp, 'a'), secrets);

  it('writes dist/*.k8s.yaml, numbered in apply order, every document an object with a kind', () => {
    // WHEN cdk8s.yaml's app runs under Node 24 type stripping
    // THEN there is one file per chart, the platform before the functions before the apps
    const names = Object.keys(first);
    assert.deepEqual(names.map((n) => n.replace(/^\d{4}-/, '')), ['aiproc-gpu.k8s.yaml', 'aiproc-platform.k8s.yaml', 'aiproc-functions.k8s.yaml', 'aiproc-ui.k8s.yaml']);
    for (const [name, text] of Object.entries(first)) {
      for (const doc of parseAllDocuments(text)) {
        assert.deepEqual(doc.errors, [], name);
        assert.ok(doc.toJS()?.kind, `${name}: a document without a kind`);
      }
    }
  });

  it('is deterministic: the same input gives the same bytes', () => {
    // WHEN it runs again
    const second = cdk8sSynth(join(tmp, 'b'));
    // THEN every file is identical
    assert.deepEqual(second, first);
  });

  it('puts no secret value in dist/', () => {
    // THEN none of the values appears in any file, whole or in part
    const all = Object.values(first).join('\n');
    for (const [key, value] of Object.entries(secrets)) {
      assert.ok(!all.includes(value), `${key} leaked into dist/`);
      assert.ok(!all.includes(value.slice(-16)), `part of ${key} leaked into dist/`);
    }
    assert.doesNotMatch(all, /^kind: Secret$/m);
  });
});
