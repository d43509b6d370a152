import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Credentials every local client uses: s3rver accepts only these, the others accept anything. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/** Listens on an ephemeral loopback port and resolves the `http://127.0.0.1:<port>` endpoint. */
export function listenOnLoopback(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', onError);
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

/**
 * Closes an emulator's server (which also closes its store) and drops any kept-alive client
 * sockets, which would otherwise hold `close()` open until they time out.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error?: Error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
