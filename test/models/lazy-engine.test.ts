import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');

/** The packages a module's static import graph reaches, recorded by a resolve hook in a fresh process. */
function packagesLoadedBy(file: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) {
      const r = next(specifier, context);
      const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
      if (m) seen.add(m[1]);
      return r;
    } });
    await import(${JSON.stringify(pathToFileURL(join(ROOT, file)).href)});
    console.log(JSON.stringify([...seen].sort()));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('the embedded engine is loaded only when it is chosen', () => {
  it("npm start's entry does not import node-llama-cpp (about 50 MB) before a model is resolved", () => {
    // GIVEN the static imports of functions/main.ts's modules (the embedded composition and the model resolution)
    const packages = [...packagesLoadedBy('functions/embedded.ts'), ...packagesLoadedBy('functions/lib/models/resolve.ts')];
    // THEN the Ollama client is there and the embedded engine is not
    assert.ok(packages.includes('ollama'), `the resolve hook saw: ${packages.join(', ')}`);
    assert.ok(!packages.includes('node-llama-cpp'), 'node-llama-cpp is imported statically');
  });

  it('the engine module itself does import it (the check can fail)', () => {
    // GIVEN the engine's client module WHEN its imports are recorded THEN node-llama-cpp is among them
    assert.ok(packagesLoadedBy('functions/lib/models/llama.ts').includes('node-llama-cpp'));
  });
});
