import { createServer, type AddressInfo } from 'node:net';

/** A TCP port nothing listens on now (for a server that cannot take port 0, like n8n or OpenWebUI). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
