import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Built from parts so that this file does not match itself.
const SHARED = ['..', ['sh', 'ared'].join('')];
const FORBIDDEN: [RegExp, string][] = [
  [new RegExp(`\\.\\.[/\\\\]${SHARED[1]}\\b`), 'the folder beside the repository'],
  [new RegExp(`['"]\\.\\.['"]\\s*,\\s*['"]${SHARED[1]}['"]`), 'the folder beside the repository'],
  [new RegExp(`(?<![\\w.~-])/${'work'}/`), "a path on the developers' machine"],
];

/**
 * The places in one file's text that leave the repository: the forbidden names above, and any
 * relative path (`../x`, a link, an import) that climbs above the root from the file's folder.
 * @example outsideReferences('docs/a.md', 'see [b](../../b.md)') // ['docs/a.md:1: ../../b.md (climbs out of the repository)']
 */
export function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    for (const [re, what] of FORBIDDEN) if (re.test(line)) found.push(`${at}: ${line.trim().slice(0, 120)} (${what})`);
    for (const m of line.matchAll(/(?<![\w.\/\\-])((?:\.\.\/)+)[\w@.-][\w@.\/-]*/g)) {
      const target = relative(ROOT, join(ROOT, dirname(file), m[0]));
      if (target.startsWith('..')) found.push(`${at}: ${m[0]} (climbs out of the repository)`);
    }
  });
  return found;
}

describe('the repository stands on its own', () => {
  it('no tracked file refers to the folder beside it or any path outside it', () => {
    // GIVEN every file git tracks (what a clone gets)
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    assert.ok(files.length > 100, `only ${files.length} tracked files`);
    // WHEN each text file is searched
    const found = files.filter((f) => existsSync(join(ROOT, f))).flatMap((f) => {
      const bytes = readFileSync(join(ROOT, f));
      return bytes.includes(0) ? [] : outsideReferences(f, bytes.toString('utf8'));
    });
    // THEN nothing points outside the repository
    assert.deepEqual(found, []);
  });

  it('the search finds such references (the check can fail)', () => {
    // GIVEN lines that leave the repository in each way, and lines that stay inside
    const bad = [
      `The map is ${SHARED.join('/')}/DESIGN.md.`,
      `const CRDS = resolve(ROOT, '${SHARED[0]}', '${SHARED[1]}', 'crds');`,
      `see /${'work'}/coord/notes`,
      `import { x } from "${'../'.repeat(3)}elsewhere/x.ts";`,
    ];
    const good = ["import { x } from '../../charts/main.ts';", 'see [the store](../docs/store.md)', 'cache in ~/.cache/aiproc/n8n'];
    // WHEN they are searched as if in test/charts/x.ts
    // THEN each bad line is reported once, no good line is
    assert.equal(outsideReferences('test/charts/x.ts', bad.join('\n')).length, bad.length);
    assert.deepEqual(outsideReferences('test/charts/x.ts', good.join('\n')), []);
  });
});
