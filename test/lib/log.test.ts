import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../functions/lib/errors.ts';
import { logFormatOf } from '../../functions/lib/log.ts';

const tmp = mkdtempSync(join(tmpdir(), 'aiproc-log-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
// A process that logs one line the way every entry point does.
const child = join(tmp, 'log-one-line.mjs');
writeFileSync(
  child,
  `import { createLogger } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', '..', 'functions', 'lib', 'log.ts')).href)};\n` +
    `createLogger('info', { app: 'aiproc' }).info({ jobId: 'job-1' }, 'planned 2 parts');\n`,
);

/** Runs the child with stderr on a pipe, or on a pseudo-terminal (util-linux `script`), and returns what it wrote. */
function run(terminal: boolean, env: Record<string, string> = {}): string {
  const quoted = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const r = terminal
    ? spawnSync('script', ['-qfec', `${quoted(process.execPath)} ${quoted(child)}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, LOG_FORMAT: '', ...env } })
    : spawnSync(process.execPath, [child], { encoding: 'utf8', env: { ...process.env, LOG_FORMAT: '', ...env } });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}${r.error ?? ''}`);
  return `${r.stdout}${r.stderr}`;
}

const asJson = (out: string) => JSON.parse(out.trim().split(/\r?\n/).at(-1)!);

describe('log format', () => {
  it('is pretty for a person at a terminal', () => {
    // GIVEN stderr on a pseudo-terminal and no LOG_FORMAT
    // WHEN a line is logged
    const out = run(true);
    // THEN it is one readable line: time, level, message, fields; no JSON record
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*planned 2 parts.*jobId.*job-1/m);
    assert.doesNotMatch(out, /"level":30/);
  });

  it('is JSON lines when stderr is not a terminal', () => {
    // GIVEN stderr on a pipe WHEN a line is logged THEN it is a JSON record with level, message and fields
    const line = asJson(run(false));
    assert.equal(line.level, 30);
    assert.equal(line.msg, 'planned 2 parts');
    assert.equal(line.jobId, 'job-1');
    assert.equal(line.app, 'aiproc');
  });

  it('is JSON lines on a terminal too with LOG_FORMAT=json', () => {
    // GIVEN a pseudo-terminal and LOG_FORMAT=json WHEN a line is logged THEN it is JSON
    assert.equal(asJson(run(true, { LOG_FORMAT: 'json' })).msg, 'planned 2 parts');
  });

  it('refuses an unknown LOG_FORMAT, naming the setting', () => {
    // GIVEN LOG_FORMAT=xml WHEN the format is chosen THEN a ConfigError names the setting and its values
    assert.throws(() => logFormatOf({ LOG_FORMAT: 'xml' }, true), (err: Error) => err instanceof ConfigError && /LOG_FORMAT must be pretty or json, not "xml"/.test(err.message));
    assert.equal(logFormatOf({ LOG_FORMAT: 'pretty' }, false), 'pretty');
  });
});
