import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the file server was asked for. */
export interface FileRequest {
  url: string;
  range?: string;
}

/**
 * A local HTTP server that serves one byte buffer at any path, honouring `Range: bytes=N-`
 * (206) unless told not to; for download tests that must never touch the internet.
 * @example const srv = await startFileServer(bytes); await downloadModel({ url: srv.url('/m.gguf'), … }); await srv.close()
 */
export async function startFileServer(body: Buffer, opts: { ranges?: boolean; status?: number; cutAfter?: number } = {}) {
  const requests: FileRequest[] = [];
  const held: import('node:http').ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}) });
    if (opts.status) {
      res.writeHead(opts.status).end('nope');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && opts.ranges !== false ? Number(m[1]) : 0;
    if (start >= body.length && m) {
      res.writeHead(416).end();
      return;
    }
    const slice = body.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': String(slice.length), 'content-type': 'application/octet-stream' });
    if (opts.cutAfter !== undefined) {
      // Send part of the body and hold the rest until the test calls cut(): an interrupted download.
      res.write(slice.subarray(0, opts.cutAfter));
      held.push(res);
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    /** Drops the connections of held responses (with `cutAfter`). */
    cut: () => held.splice(0).forEach((res) => res.destroy()),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens (found by listening, then closing). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
