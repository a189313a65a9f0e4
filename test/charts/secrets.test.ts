import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateSecretValues, missingSecretPatch, SECRET_NAME, SecretKeys, supabaseKey } from '../../charts/secrets.ts';
import { ROOT } from './support.ts';

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

describe('generated secrets', () => {
  it('gives every key a fresh value, different each time', () => {
    // GIVEN two generations
    const a = generateSecretValues();
    const b = generateSecretValues();
    // THEN every key has a value, and no value repeats
    assert.deepEqual(Object.keys(a).sort(), Object.values(SecretKeys).sort());
    for (const k of Object.values(SecretKeys)) assert.notEqual(a[k], b[k], k);
    assert.equal(new Set(Object.values(a)).size, Object.values(a).length);
    // AND the Postgres password can sit in a URL as it is
    assert.match(a[SecretKeys.postgresPassword], /^[0-9a-f]{48}$/);
    assert.match(a[SecretKeys.webhookSecrets], /^whsec_[A-Za-z0-9+/=]{40,}$/);
  });

  it('signs the Supabase keys with the JWT secret PostgREST checks, each with its role', () => {
    // GIVEN generated values
    const v = generateSecretValues();
    for (const [key, role] of [[SecretKeys.serviceRoleKey, 'service_role'], [SecretKeys.anonKey, 'anon']] as const) {
      // WHEN the key's signature is recomputed with JWT_SECRET
      const [h, p, sig] = v[key].split('.');
      const expected = createHmac('sha256', v[SecretKeys.jwtSecret]).update(`${h}.${p}`).digest('base64url');
      // THEN it matches and the role claim is right
      assert.equal(sig, expected);
      assert.equal(claims(v[key]).role, role);
      assert.ok(claims(v[key]).exp > Date.now() / 1000 + 365 * 24 * 3600);
    }
    assert.equal(JSON.parse(Buffer.from(supabaseKey('anon', 's', 1).split('.')[0]!, 'base64url').toString()).alg, 'HS256');
  });

  it('the CLI prints a Secret for kubectl, with an external service-role key when given', () => {
    // GIVEN an external Supabase key in the environment
    const r = spawnSync(process.execPath, ['charts/generate-secrets.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, AIPROC_NAMESPACE: 'other', SUPABASE_SERVICE_ROLE_KEY: 'external-key' },
    });
    // THEN the Secret goes to that namespace and carries that key
    assert.equal(r.status, 0, r.stderr);
    const secret = JSON.parse(r.stdout);
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.metadata.name, SECRET_NAME);
    assert.equal(secret.metadata.namespace, 'other');
    assert.equal(secret.stringData[SecretKeys.serviceRoleKey], 'external-key');
  });
});

describe('a Secret made by an older release', () => {
  it('gets the keys it lacks, with fresh values, and keeps every value it has', () => {
    // GIVEN a Secret without the keys this release added
    const old = generateSecretValues();
    const data = Object.fromEntries(Object.entries(old).filter(([k]) => ![SecretKeys.eventKeys, SecretKeys.adminKeys, SecretKeys.gatewayKeys].includes(k as never)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    // WHEN the CLI is asked what is missing
    const r = spawnSync(process.execPath, ['charts/generate-secrets.ts', '--missing'], { cwd: ROOT, encoding: 'utf8', input: JSON.stringify({ data }) });
    // THEN it prints a merge patch with exactly those keys
    assert.equal(r.status, 0, r.stderr);
    const patch = JSON.parse(r.stdout) as { stringData: Record<string, string> };
    assert.deepEqual(Object.keys(patch.stringData).sort(), [SecretKeys.adminKeys, SecretKeys.eventKeys, SecretKeys.gatewayKeys].sort());
    assert.match(patch.stringData[SecretKeys.eventKeys]!, /^[0-9a-f]{64}$/);
    // AND nothing when nothing is missing
    assert.deepEqual(missingSecretPatch({ data: old }), null);
  });
});
