import { openSync, readFileSync, unlinkSync, writeFileSync, closeSync } from 'node:fs';
import { ConfigError } from '../errors.ts';

/** Folders this process has open: PGlite must not open one twice either. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims a PGlite data folder for this process with `<dir>.lock` holding its pid: PGlite is one
 * Postgres backend with no locking of its own, and two processes on one folder corrupt it. A
 * lock left by a process that is gone (or by an earlier life of this pid, as in a restarted
 * container) is taken over. Returns the release function.
 * @example const release = lockFolder('/data/pglite'); …; release()
 */
export function lockFolder(dir: string): () => void {
  const file = `${dir}.lock`;
  if (held.has(dir)) throw new ConfigError(`${dir} is already open in this process`);
  try {
    const fd = openSync(file, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new ConfigError(
        `AIPROC_DATA_DIR: ${dir} is in use by another aiproc process (pid ${pid}); stop it, or give this one its own AIPROC_DATA_DIR or a DATABASE_URL`,
      );
    }
    writeFileSync(file, String(process.pid));
  }
  held.add(dir);
  return () => {
    held.delete(dir);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}
