// Runs before `npm start` and `npm test` with whatever Node the machine has (plain JS on purpose):
// on a fresh clone, or when package-lock.json changed, it installs the dependencies (`npm ci`),
// which include Node 24 itself (the `node` package), so the scripts that follow run on Node 24.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const node24 = join(root, 'node_modules', '.bin', 'node');

const stale = !existsSync(installed) || !existsSync(node24) || statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000;
if (stale) {
  console.log('aiproc: installing dependencies (npm ci; includes Node 24 from the npm registry, a minute or two the first time)…');
  // --loglevel=error: the machine's Node may be older than some packages ask for (it only runs
  // this installer; everything after runs on the Node 24 installed here), so npm's EBADENGINE
  // warnings would be noise. Its progress spinner, its summary line and real errors still show.
  execSync('npm ci --no-audit --no-fund --loglevel=error', { cwd: root, stdio: 'inherit' });
}
