import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { matchRoute, routeKey } from '#commons/api/routes.ts';
import { LOCAL_ACCOUNT_ID } from '../emulators/endpoint.ts';

/** API Gateway's own limit on a request's payload. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The API's port is taken. */
export class ApiPortInUse extends Error {
  override readonly name = 'ApiPortInUse';
  constructor(readonly port: number) {
    super(`the HTTP API's port ${port} on 127.0.0.1 is already in use`);
  }
}

/** A bearer token for a run of `sluice up` that was given none: 32 random bytes, URL-safe. */
export const generateApiToken = (): string => randomBytes(32).toString('base64url');

export interface HttpApiGatewayOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** The bearer token every request must carry, as a JWT authorizer checks one on AWS. */
  readonly token: string;
  /** Runs the API's function with an API Gateway event, as its integration does. */
  readonly invoke: (event: APIGatewayProxyEventV2) => Promise<unknown>;
}

export interface HttpApiGateway {
  /** `http://127.0.0.1:<port>`, the stage URL routes hang off. */
  readonly url: string;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The payload format 2.0 event API Gateway gives a Lambda integration. */
function eventOf(
  request: IncomingMessage,
  url: URL,
  matched: { readonly key: string; readonly pathParameters: Record<string, string> },
  body: Buffer,
  port: number,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-proto'] = 'http';
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const now = new Date();
  const textual = /json|text|x-www-form-urlencoded/.test(headers['content-type'] ?? 'text');
  return {
    version: '2.0',
    routeKey: matched.key,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
    pathParameters:
      Object.keys(matched.pathParameters).length > 0 ? matched.pathParameters : undefined,
    body: body.length === 0 ? undefined : body.toString(textual ? 'utf8' : 'base64'),
    isBase64Encoded: body.length > 0 && !textual,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      domainName: `127.0.0.1:${port}`,
      domainPrefix: '127',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: matched.key,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

/**
 * What API Gateway does in front of the API's function, on 127.0.0.1: checks the bearer token,
 * matches the route from the same table CDK deploys, builds the 2.0 event, and answers with the
 * function's result. Its own refusals have API Gateway's shape (`{"message": ...}`), so clients
 * handle the same answers in both places.
 * @throws ApiPortInUse when the port is taken.
 */
export async function startHttpApiGateway(options: HttpApiGatewayOptions): Promise<HttpApiGateway> {
  let port = options.port;
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      // API Gateway matches the route first, then runs that route's authorizer.
      const match = matchRoute(request.method ?? 'GET', url.pathname);
      if (!match) return send(response, 404, { message: 'Not Found' });
      if (!authorized(request.headers.authorization, options.token)) {
        response.setHeader('www-authenticate', 'Bearer');
        return send(response, 401, { message: 'Unauthorized' });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) return send(response, 413, { message: 'Request Too Long' });
        chunks.push(chunk as Buffer);
      }
      const event = eventOf(
        request,
        url,
        { key: routeKey(match.route), pathParameters: match.pathParameters },
        Buffer.concat(chunks),
        port,
      );
      const result = (await options.invoke(event)) as APIGatewayProxyStructuredResultV2;
      const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
      response.writeHead(result.statusCode ?? 200, {
        ...(result.headers as Record<string, string>),
        'content-length': body.length,
      });
      response.end(body);
    } catch (error) {
      process.stderr.write(`sluice api: ${(error as Error).message}\n`);
      if (!response.headersSent) send(response, 500, { message: 'Internal Server Error' });
      else response.destroy();
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new ApiPortInUse(options.port)
      : error;
  }
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
