import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Language, Parser, type Node as SyntaxNode } from 'web-tree-sitter';
import { configWith, idOf, ROOT, synthAll } from '../charts/support.ts';

const sh = readFileSync(join(ROOT, 'build-and-run.sh'), 'utf8');
const ps1 = readFileSync(join(ROOT, 'build-and-run.ps1'), 'utf8');

/** Runs the shell script with a PATH that has no docker and no kubectl, as on this machine. */
function script(...args: string[]) {
  return spawnSync('bash', [join(ROOT, 'build-and-run.sh'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
  });
}

const stepsOf = (out: string) => [...out.matchAll(/^==> \[\d+\] ([a-z-]+):/gm)].map((m) => m[1]);

const ALL_STEPS = ['preflight', 'dependencies', 'kubernetes-version', 'platform', 'knative-config', 'gpu', 'secrets', 'build', 'synth', 'apply', 'wait', 'urls'];

describe('build-and-run.sh --dry-run', () => {
  it('prints the plan (what it would install, build and apply) and exits 0', () => {
    // GIVEN no docker, no kubectl, no cluster
    // WHEN the script runs as a dry run
    const r = script('--dry-run');
    // THEN it succeeds and walks every step in order
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(stepsOf(r.stdout), ALL_STEPS);
    // AND says what it would install, build and apply
    assert.match(r.stdout, /would run: kubectl .*apply --server-side .*knative\/serving\/releases\/download\/knative-v[\d.]+\/serving-core\.yaml/);
    assert.match(r.stdout, /would run: kubectl .*eventing-rabbitmq\/releases\/download\/knative-v[\d.]+\/rabbitmq-source\.yaml/);
    assert.match(r.stdout, /would run: docker build -f images\/functions\.Dockerfile -t dev\.local\/aiproc-functions:[0-9a-f]{12} \./);
    assert.match(r.stdout, /would apply dist\/\d{4}-aiproc-platform\.k8s\.yaml\t\d+ objects: .*RabbitmqCluster/);
    assert.match(r.stdout, /would apply dist\/\d{4}-aiproc-functions\.k8s\.yaml\t\d+ objects: .*RabbitmqSource/);
    assert.match(r.stdout, /max-revision-timeout-seconds/);
    assert.match(r.stdout, /OpenWebUI: +http:\/\/localhost:3000/);
    assert.equal(r.stderr, '');
  });

  it('takes the models list and CPU-only, and plans for them', () => {
    // GIVEN one model and CPU-only
    const r = script('--dry-run', '--cpu-only', '--models', 'codellama-7b');
    // THEN the plan says so and leaves out the GPU plugin
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /models: codellama-7b/);
    assert.match(r.stdout, /NOTICE: CPU-only/);
    assert.doesNotMatch(r.stdout, /aiproc-gpu\.k8s\.yaml/);
    assert.match(r.stdout, /would apply dist\/\d{4}-aiproc-functions\.k8s\.yaml\t\d+ objects: .*\b3 RabbitmqSource\b/);
  });

  it('refuses a models list the charts cannot deploy, naming the problem', () => {
    const r = script('--dry-run', '--models', 'nope');
    assert.equal(r.status, 1);
    assert.match(r.stdout + r.stderr, /AIPROC_MODELS: "nope" is not a configured model slug/);
  });

  it('--down plans the removal and keeps the data', () => {
    const r = script('--dry-run', '--down');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(stepsOf(r.stdout), ['preflight', 'down']);
    assert.match(r.stdout, /kept: namespace aiproc, its PersistentVolumeClaims/);
    assert.doesNotMatch(r.stdout, /delete[^\n]*(pvc|persistentvolumeclaim|namespace )/i);
  });

  it('--down deletes every kind of object the charts make in the namespace, except the volume claims', () => {
    // GIVEN the kinds --down deletes (by label) and everything the charts put in the namespace
    const kinds = new Set(sh.match(/^DOWN_KINDS="([^"]+)"/m)![1]!.split(','));
    const crdResources: Record<string, string> = {
      'sources.knative.dev/v1alpha1 RabbitmqSource': 'rabbitmqsources.sources.knative.dev',
      'serving.knative.dev/v1 Service': 'services.serving.knative.dev',
      'rabbitmq.com/v1beta1 RabbitmqCluster': 'rabbitmqcluster',
      'rabbitmq.com/v1beta1 Exchange': 'exchanges.rabbitmq.com',
      'rabbitmq.com/v1beta1 Queue': 'queues.rabbitmq.com',
      'rabbitmq.com/v1beta1 Binding': 'bindings.rabbitmq.com',
    };
    const resource = (o: { apiVersion: string; kind: string }) => crdResources[`${o.apiVersion} ${o.kind}`] ?? o.kind.toLowerCase();
    const namespaced = synthAll(configWith()).filter((o) => o.metadata.namespace === 'aiproc');
    for (const o of namespaced) {
      // THEN each object carries the label --down selects by
      assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'aiproc', idOf(o));
      // AND its kind is deleted, unless it holds data
      if (o.kind === 'PersistentVolumeClaim') assert.ok(!kinds.has('persistentvolumeclaim') && !kinds.has('pvc'));
      else assert.ok(kinds.has(resource(o)), `--down leaves ${idOf(o)}`);
    }
    assert.match(ps1, new RegExp(`^\\$DownKinds = '${[...kinds].join(',').replaceAll('.', '\\.')}'$`, 'm'), 'the .ps1 deletes the same kinds');
  });

  it('reaches OpenWebUI and n8n through port-forward, unless --expose makes them LoadBalancers', () => {
    const plain = script('--dry-run');
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /would run: kubectl -n aiproc port-forward svc\/openwebui 3000:3000/);
    assert.match(plain.stdout, /would run: kubectl -n aiproc port-forward svc\/n8n 5678:5678/);
    const exposed = script('--dry-run', '--expose');
    assert.equal(exposed.status, 0, exposed.stderr);
    assert.doesNotMatch(exposed.stdout, /port-forward/);
    assert.match(ps1, /\[switch\]\$Expose/);
    assert.match(ps1, /Start-PortForward 'openwebui' 3000/);
  });

  it('rejects an unknown option with exit 2', () => {
    const r = script('--dry-runn');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option: --dry-runn/);
  });
});

/** Syntax errors in PowerShell source, from the tree-sitter PowerShell grammar (no pwsh needed). */
async function powershellSyntaxErrors(source: string): Promise<string[]> {
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
  const parser = new Parser();
  parser.setLanguage(await Language.load(wasm));
  const tree = parser.parse(source)!;
  const errors: string[] = [];
  const walk = (n: SyntaxNode) => {
    if (n.type === 'ERROR' || n.isMissing) errors.push(`line ${n.startPosition.row + 1}: ${n.text.slice(0, 60)}`);
    for (const c of n.children) if (c) walk(c);
  };
  walk(tree.rootNode);
  return errors;
}

describe('build-and-run.ps1 mirrors build-and-run.sh step for step', () => {
  it('parses as PowerShell', async () => {
    // GIVEN the script, and a broken one as a control
    // WHEN both are parsed with the PowerShell grammar
    // THEN the script has no syntax error, and the control has one
    assert.deepEqual(await powershellSyntaxErrors(ps1), []);
    assert.notDeepEqual(await powershellSyntaxErrors('function Step-x { if ($a { }\n'), []);
  });

  it('declares the same named steps, with the same titles, in the same order (run and --down)', () => {
    // GIVEN the step calls of each script
    const shSteps = [...sh.matchAll(/^\s*run_step ([a-z-]+) "([^"]+)"/gm)].map((m) => `${m[1]}: ${m[2]}`);
    const psSteps = [...ps1.matchAll(/^\s*Invoke-Step '([a-z-]+)' (?:'([^']+)'|"([^"]+)")/gm)].map((m) => `${m[1]}: ${m[2] ?? m[3]}`);
    // THEN they are the same list
    assert.ok(shSteps.length >= ALL_STEPS.length + 2);
    assert.deepEqual(psSteps, shSteps);
    // AND every step has an implementation in both
    for (const name of new Set(shSteps.map((s) => s.split(':')[0]!))) {
      assert.match(sh, new RegExp(`^step_${name.replaceAll('-', '_')}\\(\\) \\{`, 'm'), `build-and-run.sh lacks step_${name}`);
      assert.match(ps1, new RegExp(`^function Step-${name} \\{`, 'm'), `build-and-run.ps1 lacks Step-${name}`);
    }
  });

  it('takes the same parameters', () => {
    // GIVEN the long options of the shell script
    const shOptions = [...sh.matchAll(/^\s+--([a-z-]+)\) /gm)].map((m) => m[1]!);
    // WHEN they are written as PowerShell parameter names
    const pascal = shOptions.map((o) => o.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(''));
    // THEN the PowerShell script declares each of them
    assert.ok(pascal.includes('Down') && pascal.includes('CpuOnly') && pascal.includes('Models'));
    for (const p of pascal) assert.match(ps1, new RegExp(`\\$${p}\\b`), `build-and-run.ps1 has no -${p}`);
  });

  it('installs the same platform pieces, at the same versions, and sets the same Knative settings', () => {
    const norm = (s: string) => s.replace(/\$[A-Za-z_]+/g, '$V');
    const shUrls = [...sh.matchAll(/^\s*apply_url "([^"]+)"/gm)].map((m) => norm(m[1]!));
    const psUrls = [...ps1.matchAll(/^\s*Apply-Url "([^"]+)"/gm)].map((m) => norm(m[1]!));
    assert.ok(shUrls.length >= 8);
    assert.deepEqual(psUrls, shUrls);
    const shPatches = [...sh.matchAll(/^\s*patch_cm (\S+) (\S+) '([^']+)'/gm)].map((m) => m.slice(1).join(' '));
    const psPatches = [...ps1.matchAll(/^\s*Patch-ConfigMap '([^']+)' '([^']+)' '([^']+)'/gm)].map((m) => m.slice(1).join(' '));
    assert.ok(shPatches.length >= 5);
    assert.deepEqual(psPatches, shPatches);
    const versions = [...sh.matchAll(/^([A-Z_]+_VERSION|MIN_KUBERNETES)="\$\{\1:-([^}]+)\}"/gm)];
    assert.equal(versions.length, 7);
    for (const [, name, value] of versions) {
      assert.match(ps1, new RegExp(`Get-Setting '${name}' '${value!.replaceAll('.', '\\.')}'`), `${name} differs`);
    }
  });
});
