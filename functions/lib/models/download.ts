import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../errors.ts';

export interface DownloadSpec {
  /** For messages, e.g. `SmolLM2-135M-Instruct Q4_1`. */
  name: string;
  url: string;
  /** The file name in `dir`. */
  file: string;
  sha256?: string;
  size?: number;
}

export interface DownloadOptions {
  /** The folder the file lands in (created when missing). */
  dir: string;
  /** The test seam. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** How long to wait for the server to answer before giving up (no internet fails fast). @default 15000 */
  connectTimeoutMs?: number;
  /** How long the body may send nothing before giving up. @default 60000 */
  stallTimeoutMs?: number;
  /** Called as bytes arrive; `total` is 0 when unknown. @default progressBar(process.stderr) */
  onProgress?: (received: number, total: number) => void;
}

const MiB = 1024 * 1024;

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * A progress line on a terminal (redrawn in place), or a line per 10% elsewhere.
 * @example downloadModel(spec, { dir, onProgress: progressBar(process.stderr, 'model') })
 */
export function progressBar(out: NodeJS.WriteStream = process.stderr, label = 'download'): (received: number, total: number) => void {
  const started = Date.now();
  let lastDraw = 0;
  let lastTenth = -1;
  return (received, total) => {
    const pct = total > 0 ? Math.floor((received / total) * 100) : 0;
    const now = Date.now();
    const mbps = received / MiB / Math.max(0.001, (now - started) / 1000);
    const line = `${label} ${total > 0 ? `${String(pct).padStart(3)}% ` : ''}${(received / MiB).toFixed(1)}${total > 0 ? `/${(total / MiB).toFixed(1)}` : ''} MiB ${mbps.toFixed(1)} MiB/s`;
    if (out.isTTY) {
      if (now - lastDraw < 100 && received !== total) return;
      lastDraw = now;
      const width = 30;
      const filled = total > 0 ? Math.round((received / total) * width) : 0;
      out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}${received === total ? '\n' : ''}`);
    } else if (total > 0 && Math.floor(pct / 10) !== lastTenth) {
      lastTenth = Math.floor(pct / 10);
      out.write(`${line}\n`);
    }
  };
}

/** The reason a fetch failed, in a few words: `getaddrinfo ENOTFOUND host`, `ECONNREFUSED`, `timed out`. */
function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.message ?? e?.cause?.code ?? e?.message ?? String(err);
}

/**
 * Downloads one model file into `dir`: resumes a `<file>.partial` left by an earlier try (HTTP
 * Range), checks the size and sha256, and only then gives it its name. Fails fast, with a
 * ConfigError, when the server cannot be reached. Returns the file's path.
 * @example const gguf = await downloadModel(config.embedded, { dir: join(dataDir, 'models') })
 */
export async function downloadModel(spec: DownloadSpec, opts: DownloadOptions): Promise<string> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const target = join(opts.dir, spec.file);
  if (sizeOf(target) > 0 && (spec.size === undefined || sizeOf(target) === spec.size)) return target;
  mkdirSync(opts.dir, { recursive: true });
  const partial = `${target}.partial`;
  const onProgress = opts.onProgress ?? progressBar(process.stderr, spec.file);
  const fail = (why: string) => new ConfigError(`cannot download ${spec.name} from ${spec.url}: ${why}`);

  let offset = sizeOf(partial);
  if (spec.size !== undefined && offset > spec.size) {
    rmSync(partial, { force: true });
    offset = 0;
  }

  if (spec.size === undefined || offset < spec.size) {
    const connect = new AbortController();
    const connectTimer = setTimeout(() => connect.abort(new DOMException('timed out', 'TimeoutError')), opts.connectTimeoutMs ?? 15_000);
    let res: Response;
    try {
      res = await doFetch(spec.url, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {}, signal: connect.signal, redirect: 'follow' });
    } catch (err) {
      throw fail(reasonOf(connect.signal.aborted ? connect.signal.reason : err));
    } finally {
      clearTimeout(connectTimer);
    }
    if (res.status === 416 && offset > 0) {
      await res.body?.cancel();
    } else {
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw fail(`HTTP ${res.status} ${res.statusText}`);
      }
      if (res.status === 200) offset = 0; // the server ignored Range: start over
      const length = Number(res.headers.get('content-length') ?? NaN);
      const total = Number.isFinite(length) ? offset + length : (spec.size ?? 0);
      if (spec.size !== undefined && total !== spec.size) {
        await res.body?.cancel();
        throw fail(`the server offers ${total} bytes, the models config expects ${spec.size}`);
      }
      await receive(res, partial, offset, total, opts.stallTimeoutMs ?? 60_000, onProgress).catch((err: unknown) => {
        throw fail(`${reasonOf(err)} (what arrived is kept in ${partial}; the next start resumes)`);
      });
    }
  }

  const size = sizeOf(partial);
  if (spec.size !== undefined && size !== spec.size) throw fail(`got ${size} bytes, expected ${spec.size}`);
  if (spec.sha256) {
    const digest = await sha256Of(partial);
    if (digest !== spec.sha256) {
      rmSync(partial, { force: true });
      throw fail(`the file's sha256 is ${digest}, expected ${spec.sha256}; the broken download was removed`);
    }
  }
  renameSync(partial, target);
  return target;
}

/**
 * Writes the body onto the end of `file`, each chunk awaited so that what arrived before a
 * failure stays on disk for the next try; aborts when nothing arrives for `stallMs`.
 */
async function receive(res: Response, file: string, offset: number, total: number, stallMs: number, onProgress: (r: number, t: number) => void): Promise<void> {
  if (!res.body) throw new Error('the response has no body');
  const reader = res.body.getReader();
  const out = await open(file, offset > 0 ? 'a' : 'w');
  let received = offset;
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DOMException('timed out', 'TimeoutError')), stallMs);
  });
  stalled.catch(() => {});
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stalled]);
      if (done) break;
      timer?.refresh();
      await out.write(value);
      received += value.length;
      onProgress(received, total);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    await out.close();
  }
}
