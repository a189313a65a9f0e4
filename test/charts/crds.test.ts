import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { CRDS, ROOT } from './support.ts';

/** What a CRD file's header says about where it came from. */
interface CrdOrigin {
  file: string;
  upstream: string;
  line: string;
  variable: string;
  kind: string;
}

function originOf(file: string): CrdOrigin {
  const text = readFileSync(join(CRDS, file), 'utf8');
  const upstream = /^# upstream: (https:\/\/github\.com\/\S+) release line (\d+\.\d+), \S+$/m.exec(text);
  const installed = /^# installed by: build-and-run\.sh \/ build-and-run\.ps1 as (\w+) (\d+\.\d+)\.x$/m.exec(text);
  const kind = /^# kind: (\S+ \w+)\./m.exec(text);
  assert.ok(upstream && installed && kind, `${file}: the header must name the upstream, the release line, the installing setting and the kind`);
  assert.equal(installed[2], upstream[2], `${file}: the header names two release lines`);
  return { file, upstream: upstream[1]!, line: upstream[2]!, variable: installed[1]!, kind: kind[1]! };
}

/** The default versions the deploy scripts install, by setting name. */
function scriptDefaults(sh: string, ps1: string): { sh: Map<string, string>; ps1: Map<string, string> } {
  return {
    sh: new Map([...sh.matchAll(/^(\w+_VERSION)="\$\{\1:-([\d.]+)\}"$/gm)].map((m) => [m[1]!, m[2]!])),
    ps1: new Map([...ps1.matchAll(/^\$\w+ = Get-Setting '(\w+_VERSION)' '([\d.]+)'$/gm)].map((m) => [m[1]!, m[2]!])),
  };
}

/** Where the CRD copies and the versions the scripts install disagree (empty = they agree). */
function versionProblems(origins: CrdOrigin[], sh: string, ps1: string): string[] {
  const defaults = scriptDefaults(sh, ps1);
  const problems: string[] = [];
  for (const o of origins) {
    for (const [script, versions] of Object.entries(defaults)) {
      const v = versions.get(o.variable);
      if (!v) problems.push(`${o.file}: build-and-run.${script} sets no ${o.variable}`);
      else if (!v.startsWith(`${o.line}.`)) problems.push(`${o.file} is from the ${o.line} line, build-and-run.${script} installs ${o.variable} ${v}`);
    }
  }
  return problems;
}

const crdFiles = readdirSync(CRDS).filter((f) => f.endsWith('.yaml')).sort();
const sh = readFileSync(join(ROOT, 'build-and-run.sh'), 'utf8');
const ps1 = readFileSync(join(ROOT, 'build-and-run.ps1'), 'utf8');

describe('the CRDs the charts target live in the repository', () => {
  it('each file names its upstream project and release line, and holds the kind it says', () => {
    // GIVEN every CRD file in crds/
    assert.ok(crdFiles.length >= 10, `only ${crdFiles.length} CRD files`);
    for (const file of crdFiles) {
      // WHEN its header and its content are read
      const o = originOf(file);
      const crd = parse(readFileSync(join(CRDS, file), 'utf8'));
      // THEN the definition is the kind the header names
      assert.equal(crd.kind, 'CustomResourceDefinition', file);
      const kinds = crd.spec.versions.map((v: { name: string }) => `${crd.spec.group}/${v.name} ${crd.spec.names.kind}`);
      assert.ok(kinds.includes(o.kind), `${file}: holds ${kinds.join(', ')}, not ${o.kind}`);
    }
  });

  it('are the versions build-and-run.sh and build-and-run.ps1 install', () => {
    // GIVEN the release line of every CRD copy and the scripts' default versions
    // WHEN they are compared THEN each script installs a release of that line
    assert.deepEqual(versionProblems(crdFiles.map(originOf), sh, ps1), []);
  });

  it('the version check notices a script that moved on without the CRDs (the check can fail)', () => {
    // GIVEN the shell script installing a newer Knative Serving, the PowerShell one forgetting the setting
    const moved = sh.replace(/KNATIVE_SERVING_VERSION:-[\d.]+/, 'KNATIVE_SERVING_VERSION:-1.99.0');
    const forgot = ps1.replace(/^\$\w+ = Get-Setting 'KNATIVE_SERVING_VERSION'.*$/m, '');
    // WHEN the copies are compared with them THEN both are reported, naming the file and version
    const problems = versionProblems(crdFiles.map(originOf), moved, forgot).join('\n');
    assert.match(problems, /knative-serving\.service\.yaml is from the 1\.\d+ line, build-and-run\.sh installs KNATIVE_SERVING_VERSION 1\.99\.0/);
    assert.match(problems, /knative-serving\.service\.yaml: build-and-run\.ps1 sets no KNATIVE_SERVING_VERSION/);
  });

  it('cdk8s.yaml imports exactly the files in crds/', () => {
    // GIVEN the imports: list of cdk8s.yaml
    const imports: string[] = parse(readFileSync(join(ROOT, 'cdk8s.yaml'), 'utf8')).imports;
    // THEN each entry is NAME:=crds/<file>, one per CRD file
    const files = imports.map((spec) => /^[\w-]+:=crds\/(.+)$/.exec(spec)?.[1] ?? `(not a local CRD: ${spec})`);
    assert.deepEqual(files.sort(), crdFiles);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'aiproc-imports-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('imports/ is what `npm run import:crds` generates from them (offline), byte for byte', () => {
    // GIVEN a fresh import of every CRD into a temporary folder
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'import-crds.ts'), tmp], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // WHEN it is compared with the committed constructs
    const read = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    // THEN they are the same files with the same bytes
    assert.deepEqual(read(join(ROOT, 'imports')), read(tmp));
  });
});
