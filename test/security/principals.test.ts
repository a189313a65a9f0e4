import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiPrincipals, jobScope, keyDigest, maySee, parseKeys } from '../../functions/lib/auth/principal.ts';
import { assertSafeBind, isLoopback } from '../../functions/lib/http/auth.ts';
import { ConfigError } from '../../functions/lib/errors.ts';
import { startAiproc } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { startScriptedOllama } from '../support/scripted-ollama.ts';

const none = { AIPROC_API_KEYS: [], AIPROC_GATEWAY_KEYS: [], AIPROC_ADMIN_KEYS: [] };

describe('principals from key settings', () => {
  test('`name:key` names a principal; an unnamed key gets a name from its hash, never the key', () => {
    const keys = parseKeys(['alice:secret-1', 'secret-2'], 'user', 'AIPROC_API_KEYS');
    assert.deepEqual(keys.get(keyDigest('secret-1')), { id: 'user:alice', name: 'alice', role: 'user' });
    const unnamed = keys.get(keyDigest('secret-2'))!;
    assert.match(unnamed.name, /^key-[0-9a-f]{12}$/);
    assert.doesNotMatch(JSON.stringify([...keys.values()]), /secret/);
  });

  test('two keys with one name are one principal (rotating a user\'s key keeps their jobs)', () => {
    const keys = parseKeys(['alice:old', 'alice:new'], 'user', 'AIPROC_API_KEYS');
    assert.equal(keys.get(keyDigest('old'))!.id, keys.get(keyDigest('new'))!.id);
  });

  test('a bad name or a key in two roles fails at start, naming the setting and not the key', () => {
    assert.throws(() => parseKeys(['bad name:k'], 'user', 'AIPROC_API_KEYS'), (e: unknown) => e instanceof ConfigError && /AIPROC_API_KEYS: entry #1/.test(e.message));
    assert.throws(
      () => apiPrincipals({ ...none, AIPROC_API_KEYS: ['shared-key'], AIPROC_ADMIN_KEYS: ['ops:shared-key'] }),
      (e: unknown) => e instanceof ConfigError && /AIPROC_ADMIN_KEYS/.test(e.message) && !e.message.includes('shared-key'),
    );
  });

  test('scopes: an admin reads all, a user its own, a gateway its own and, naming a user, only theirs', () => {
    const job = (principal: string, user?: string) => ({ principal, meta: user ? { user } : {} });
    assert.deepEqual(jobScope({ id: 'admin:ops', name: 'ops', role: 'admin' }), {});
    const alice = { id: 'user:alice', name: 'alice', role: 'user' } as const;
    assert.equal(maySee(alice, job('user:alice')), true);
    assert.equal(maySee(alice, job('user:bob')), false);
    const gw = { id: 'gateway:owui', name: 'owui', role: 'gateway' } as const;
    assert.equal(maySee(gw, job('gateway:owui', 'u2')), true);
    assert.equal(maySee({ ...gw, user: 'u1' }, job('gateway:owui', 'u2')), false);
    assert.equal(maySee({ ...gw, user: 'u1' }, job('gateway:owui', 'u1')), true);
    assert.equal(maySee({ ...gw, user: 'u1' }, job('gateway:other', 'u1')), false);
  });
});

describe('listening without keys', () => {
  test('loopback addresses', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'example.org']) assert.equal(isLoopback(h), false, h);
  });

  test('refused on a non-loopback HOST with no keys, unless AIPROC_ALLOW_OPEN; any key makes it fine', () => {
    assert.throws(() => assertSafeBind({ ...none, HOST: '0.0.0.0', AIPROC_ALLOW_OPEN: false }), (e: unknown) => e instanceof ConfigError && /AIPROC_ALLOW_OPEN/.test(e.message));
    assertSafeBind({ ...none, HOST: '0.0.0.0', AIPROC_ALLOW_OPEN: true });
    assertSafeBind({ ...none, AIPROC_GATEWAY_KEYS: ['k'], HOST: '0.0.0.0', AIPROC_ALLOW_OPEN: false });
    assertSafeBind({ ...none, HOST: '127.0.0.1', AIPROC_ALLOW_OPEN: false });
  });

  test('npm start with HOST=0.0.0.0 and no keys stops with the reason; with AIPROC_ALLOW_OPEN=true it serves', async () => {
    await assert.rejects(startAiproc({ HOST: '0.0.0.0' }), /exited \(1\)[\s\S]*AIPROC_ALLOW_OPEN=true/);
    const ollama = await startScriptedOllama(pipelineScript);
    const app = await startAiproc({ HOST: '0.0.0.0', AIPROC_ALLOW_OPEN: 'true', OLLAMA_HOST: ollama.url });
    try {
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
    } finally {
      await app.stop();
      await ollama.close();
    }
  });
});
