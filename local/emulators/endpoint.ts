import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Credentials every local client uses: s3rver accepts only these, the others accept anything. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';
/** The AWS account id the local stack reports. */
export const LOCAL_ACCOUNT_ID = '000000000000';

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

/** A started emulator: where to reach it, and how to stop it (idempotent). */
export interface LocalEndpoint {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Serves an emulator on loopback and runs `prepare` (create a table, a stream) against it;
 * the server is closed again if that fails, so a half-started emulator never holds its port.
 */
export async function serveEmulator(
  server: Server,
  prepare: (endpoint: string) => Promise<void>,
): Promise<LocalEndpoint> {
  const endpoint = await listenOnLoopback(server);
  try {
    await prepare(endpoint);
  } catch (error) {
    await closeServer(server).catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}
