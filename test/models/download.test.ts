import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import { ConfigError } from '../../functions/lib/errors.ts';
import { downloadModel, type DownloadSpec } from '../../functions/lib/models/download.ts';
import { tempDirs } from '../support/temp-dirs.ts';
import { closedPort, startFileServer } from './file-server.ts';

const bytes = randomBytes(256 * 1024 + 17);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const quiet = () => {};
let dir: string;
const tempDir = tempDirs('aiproc-dl-');

beforeEach(() => {
  dir = tempDir();
});

const spec = (url: string, extra: Partial<DownloadSpec> = {}): DownloadSpec => ({ name: 'tiny', url, file: 'tiny.gguf', sha256, size: bytes.length, ...extra });

describe('downloadModel', () => {
  test('downloads, checks size and sha256, and names the file only then', async () => {
    const srv = await startFileServer(bytes);
    try {
      const seen: number[] = [];
      const path = await downloadModel(spec(srv.url('/tiny.gguf')), { dir, onProgress: (r) => seen.push(r) });
      assert.equal(path, join(dir, 'tiny.gguf'));
      assert.deepEqual(readFileSync(path), bytes);
      assert.equal(existsSync(`${path}.partial`), false);
      assert.equal(seen.at(-1), bytes.length);
    } finally {
      await srv.close();
    }
  });

  test('resumes a partial download with a Range request', async () => {
    const half = 100_000;
    writeFileSync(join(dir, 'tiny.gguf.partial'), bytes.subarray(0, half));
    const srv = await startFileServer(bytes);
    try {
      const path = await downloadModel(spec(srv.url('/tiny.gguf')), { dir, onProgress: quiet });
      assert.deepEqual(srv.requests.map((r) => r.range), [`bytes=${half}-`]);
      assert.deepEqual(readFileSync(path), bytes);
    } finally {
      await srv.close();
    }
  });

  test('an interrupted download keeps what arrived, and the next try finishes it', async () => {
    const cut = await startFileServer(bytes, { cutAfter: 50_000 });
    try {
      // The server drops the connection once the client has written what was sent.
      const onProgress = (received: number) => received >= 50_000 && cut.cut();
      await assert.rejects(downloadModel(spec(cut.url('/tiny.gguf')), { dir, onProgress }), (err: Error) => err instanceof ConfigError && /next start resumes/.test(err.message));
    } finally {
      await cut.close();
    }
    assert.equal(readFileSync(join(dir, 'tiny.gguf.partial')).length, 50_000);
    const srv = await startFileServer(bytes);
    try {
      const path = await downloadModel(spec(srv.url('/tiny.gguf')), { dir, onProgress: quiet });
      assert.deepEqual(srv.requests.map((r) => r.range), ['bytes=50000-']);
      assert.deepEqual(readFileSync(path), bytes);
    } finally {
      await srv.close();
    }
  });

  test('a server that ignores Range gets the whole file again', async () => {
    writeFileSync(join(dir, 'tiny.gguf.partial'), Buffer.from('stale bytes'));
    const srv = await startFileServer(bytes, { ranges: false });
    try {
      const path = await downloadModel(spec(srv.url('/tiny.gguf')), { dir, onProgress: quiet });
      assert.deepEqual(readFileSync(path), bytes);
    } finally {
      await srv.close();
    }
  });

  test('a wrong sha256 is refused and the broken file removed', async () => {
    const srv = await startFileServer(bytes);
    try {
      const wrong = 'a'.repeat(64);
      await assert.rejects(downloadModel(spec(srv.url('/tiny.gguf'), { sha256: wrong }), { dir, onProgress: quiet }), (err: Error) => err instanceof ConfigError && err.message.includes(`expected ${wrong}`));
      assert.equal(existsSync(join(dir, 'tiny.gguf')), false);
      assert.equal(existsSync(join(dir, 'tiny.gguf.partial')), false);
    } finally {
      await srv.close();
    }
  });

  test('a size other than the config says is refused before downloading', async () => {
    const srv = await startFileServer(bytes);
    try {
      await assert.rejects(downloadModel(spec(srv.url('/tiny.gguf'), { size: 12345 }), { dir, onProgress: quiet }), /offers 262161 bytes, the models config expects 12345/);
    } finally {
      await srv.close();
    }
  });

  test('an HTTP error names the status and the URL', async () => {
    const srv = await startFileServer(bytes, { status: 404 });
    try {
      const url = srv.url('/missing.gguf');
      await assert.rejects(downloadModel(spec(url), { dir, onProgress: quiet }), (err: Error) => err instanceof ConfigError && err.message.includes(url) && /HTTP 404/.test(err.message));
    } finally {
      await srv.close();
    }
  });

  test('no network: an unreachable server fails at once with a ConfigError', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/model.gguf`;
    await assert.rejects(downloadModel(spec(url), { dir, onProgress: quiet }), (err: Error) => err instanceof ConfigError && err.message.includes(url) && /ECONNREFUSED/.test(err.message));
  });

  test('a server that accepts but never answers times out', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as import('node:net').AddressInfo;
    try {
      await assert.rejects(downloadModel(spec(`http://127.0.0.1:${port}/m.gguf`), { dir, onProgress: quiet, connectTimeoutMs: 200 }), /timed out/);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('a file already there with the right size is used without a request', async () => {
    writeFileSync(join(dir, 'tiny.gguf'), bytes);
    const srv = await startFileServer(bytes);
    try {
      assert.equal(await downloadModel(spec(srv.url('/tiny.gguf')), { dir, onProgress: quiet }), join(dir, 'tiny.gguf'));
      assert.equal(srv.requests.length, 0);
    } finally {
      await srv.close();
    }
  });
});
