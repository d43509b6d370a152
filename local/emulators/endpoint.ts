import { createServer, type IncomingMessage, type Server } from 'node:http';
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
  /** The HTTP server behind the endpoint, for the fault layer to stand in front of. */
  readonly server: Server;
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
    server,
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}

/** An error in the AWS JSON protocols' wire shape: `name` becomes the `__type` SDKs map. */
export class AwsJsonError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

type Json = ReturnType<typeof JSON.parse>;

/**
 * Serves an AWS JSON-protocol API (`X-Amz-Target: <Service>.<Operation>`, a JSON body) on
 * loopback: an {@link AwsJsonError} answers 400 with its `__type`, anything else 500.
 */
export async function serveJsonProtocol(
  service: string,
  operations: Readonly<Record<string, (body: Json, request: IncomingMessage) => unknown>>,
): Promise<LocalEndpoint> {
  const server = createServer(async (request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(body));
    };
    try {
      const chunks: Buffer[] = [];
      // A client that goes away mid-body makes this throw; it must not take the process down.
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const run = operations[operation];
      if (!run) {
        throw new AwsJsonError(
          'UnknownOperationException',
          `${operation || 'This operation'} is not supported by the local ${service}`,
        );
      }
      send(200, run(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'), request));
    } catch (error) {
      if (response.destroyed || request.socket.destroyed) return;
      const failure = error as Error;
      const known = failure instanceof AwsJsonError;
      send(known ? 400 : 500, {
        __type: known ? failure.name : 'InternalFailure',
        message: failure.message,
      });
    }
  });
  return serveEmulator(server, async () => {});
}
