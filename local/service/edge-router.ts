import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { type Protocol, sendAwsError } from '../emulators/aws-error.ts';

/** The services behind the edge, by the names `/_sluice/health` reports (LocalStack's names). */
export type ServiceName = 's3' | 'dynamodb' | 'kinesis' | 'stepfunctions' | 'sqs' | 'sns';

/** Each emulator's internal base URL (`http://127.0.0.1:<port>`). */
export type ServiceRoutes = Readonly<Record<ServiceName, string>>;

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

const SERVICES: readonly ServiceName[] = [
  's3',
  'dynamodb',
  'kinesis',
  'stepfunctions',
  'sqs',
  'sns',
];

/** SigV4 signing names (the fourth part of the credential scope) → the service that answers. */
const SIGNING_NAMES: Readonly<Record<string, ServiceName>> = {
  s3: 's3',
  dynamodb: 'dynamodb',
  kinesis: 'kinesis',
  states: 'stepfunctions',
  sqs: 'sqs',
  sns: 'sns',
};

/** For unsigned requests: the JSON protocols name their API in `X-Amz-Target`. */
const TARGET_PREFIXES: readonly (readonly [string, ServiceName])[] = [
  ['DynamoDB_20120810.', 'dynamodb'],
  ['Kinesis_20131202.', 'kinesis'],
  ['AWSStepFunctions.', 'stepfunctions'],
  ['AmazonSQS.', 'sqs'],
];

/** s3rver knows only this access key id, and checks no SigV4 signature. */
const S3RVER_ACCESS_KEY_ID = 'S3RVER';

/** The edge's own controls live under this path, as LocalStack's live under `/_localstack/`. */
export const CONTROL_PREFIX = '/_sluice/';

/** What the edge's controls answer; the router knows nothing else about the stack. */
export interface EdgeControls {
  /** Reported by `/_sluice/health`. */
  readonly version: string;
  /** The body of `/_sluice/endpoint`: endpoint.json's content, once it exists. */
  readonly endpointInfo: () => unknown;
  /**
   * `/_sluice/faults`, as LocalStack's `/_localstack/chaos/faults`: GET reads the rules, POST
   * replaces them. `replace` throws an error with a message for the client on bad rules.
   */
  readonly faults?: {
    readonly rules: () => unknown;
    readonly replace: (rules: unknown) => Promise<unknown>;
  };
}

export interface EdgeRouterOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /**
   * Where each service answers. A promise lets the router hold its port before the emulators are
   * up: requests wait for it, and fail with a 503 if it rejects.
   */
  readonly routes: ServiceRoutes | PromiseLike<ServiceRoutes>;
  readonly controls: EdgeControls;
}

export interface EdgeRouter {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Stops listening and drops every connection, in-flight requests included (idempotent). */
  close(): Promise<void>;
}

/** The port is taken: by another sluice, or by anything else. */
export class PortInUse extends Error {
  override name = 'PortInUse';
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use`);
  }
}

/** A request body in `aws-chunked` framing that does not parse. */
export class MalformedChunkedBody extends Error {
  override name = 'MalformedChunkedBody';
}

/** The credential scope of a SigV4 request, from its Authorization header or presigned query. */
export interface CredentialScope {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

const SCOPE = /^([^/]*)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/;

/** Reads `AKID/DATE/REGION/SERVICE/aws4_request` from a request, or undefined if it is unsigned. */
export function credentialScope(
  headers: IncomingHttpHeaders,
  query: URLSearchParams,
): CredentialScope | undefined {
  const authorization = headers.authorization;
  const credential =
    typeof authorization === 'string'
      ? /Credential=([^,\s]+)/.exec(authorization)?.[1]
      : (query.get('X-Amz-Credential') ?? undefined);
  const match = credential === undefined ? null : SCOPE.exec(credential);
  if (!match) return undefined;
  const [, accessKeyId = '', date = '', region = '', service = ''] = match;
  return { accessKeyId, date, region, service };
}

/**
 * Which service a request is for: the SigV4 signing name when it is signed, else the JSON
 * protocols' `X-Amz-Target`, else S3 (whose REST API has no other marker). A signing name the
 * edge does not serve comes back as `{ unknown }`.
 */
export function routeOf(
  headers: IncomingHttpHeaders,
  query: URLSearchParams,
): { readonly service: ServiceName } | { readonly unknown: string } {
  const scope = credentialScope(headers, query);
  if (scope) {
    const service = SIGNING_NAMES[scope.service];
    return service ? { service } : { unknown: scope.service };
  }
  const target = headers['x-amz-target'];
  if (typeof target === 'string') {
    const known = TARGET_PREFIXES.find(([prefix]) => target.startsWith(prefix));
    return known ? { service: known[1] } : { unknown: target.split('.')[0] ?? target };
  }
  return { service: 's3' };
}

/**
 * A virtual-host-style S3 request (`Host: <bucket>.localhost:4599`, `<bucket>.s3.localhost`, or
 * `<bucket>.127.0.0.1`) as the bucket and the bare host, so it can go on path-style. Undefined
 * for a host with no bucket in it.
 */
export function virtualHostBucket(
  host: string | undefined,
): { readonly bucket: string; readonly host: string } | undefined {
  if (host === undefined) return undefined;
  const match = /^(.+?)\.(?:s3\.)?(localhost|127\.0\.0\.1)(:\d+)?$/i.exec(host);
  if (!match) return undefined;
  const [, bucket = '', base = '', port = ''] = match;
  if (bucket.toLowerCase() === 's3') return undefined;
  return { bucket, host: `${base}${port}` };
}

/**
 * The chunk framing the SDKs put around streamed S3 bodies (`Content-Encoding: aws-chunked`):
 * `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` per chunk, a zero-size chunk, then trailers
 * (the checksum, and its signature when signed). s3rver would store that framing as the object,
 * so this streams out the bytes alone. Signatures and checksums are not checked: s3rver checks
 * no signature either.
 */
export class AwsChunkedDecoder extends Transform {
  private state: 'header' | 'data' | 'data-end' | 'trailer' = 'header';
  private header = '';
  private remaining = 0;
  private decoded = 0;
  private pendingEnd = '';

  /** @param expectedLength x-amz-decoded-content-length, checked once the body ends. */
  constructor(private readonly expectedLength?: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== 'trailer') {
      callback(new MalformedChunkedBody('the aws-chunked body ended before its final chunk'));
    } else if (this.expectedLength !== undefined && this.decoded !== this.expectedLength) {
      callback(
        new MalformedChunkedBody(
          `the aws-chunked body holds ${this.decoded} bytes, but x-amz-decoded-content-length says ${this.expectedLength}`,
        ),
      );
    } else {
      callback();
    }
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case 'header': {
          const end = chunk.indexOf(0x0a, at);
          const piece = chunk.toString('latin1', at, end === -1 ? chunk.length : end + 1);
          this.header += piece;
          at += piece.length;
          if (this.header.length > 4096) {
            throw new MalformedChunkedBody('an aws-chunked chunk header is longer than 4 KB');
          }
          if (end === -1) break;
          const size = /^([0-9a-fA-F]{1,16})(;[^\r\n]*)?\r?\n$/.exec(this.header)?.[1];
          if (size === undefined) {
            throw new MalformedChunkedBody(
              `not an aws-chunked chunk header: ${JSON.stringify(this.header.slice(0, 80))}`,
            );
          }
          this.header = '';
          this.remaining = Number.parseInt(size, 16);
          this.state = this.remaining === 0 ? 'trailer' : 'data';
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, chunk.length - at);
          // Caught before the bytes go on: S3 would otherwise store the first ones and answer 200.
          if (this.expectedLength !== undefined && this.decoded + take > this.expectedLength) {
            throw new MalformedChunkedBody(
              `the aws-chunked body holds more than the ${this.expectedLength} bytes x-amz-decoded-content-length says`,
            );
          }
          this.push(chunk.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          this.decoded += take;
          if (this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'data-end': {
          const piece = chunk.toString(
            'latin1',
            at,
            Math.min(chunk.length, at + 2 - this.pendingEnd.length),
          );
          this.pendingEnd += piece;
          at += piece.length;
          if (this.pendingEnd.length < 2) break;
          if (this.pendingEnd !== '\r\n') {
            throw new MalformedChunkedBody('an aws-chunked chunk does not end with CRLF');
          }
          this.pendingEnd = '';
          this.state = 'header';
          break;
        }
        case 'trailer':
          // The checksum trailer and its signature: nothing s3rver could keep.
          return;
      }
    }
  }
}

/** Headers that describe one hop, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  // The edge has already answered 100 Continue to the client.
  'expect',
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !name.startsWith(':')) kept[name] = value;
  }
  return kept;
}

const isStreamingPayload = (headers: IncomingHttpHeaders): boolean => {
  const encoding = String(headers['content-encoding'] ?? '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  return /(^|,)\s*aws-chunked\s*(,|$)/i.test(encoding) || sha.startsWith('STREAMING-');
};

/**
 * Rewrites the headers of an `aws-chunked` upload for the decoded body it becomes: its length,
 * no aws-chunked encoding, no trailer, an unsigned payload.
 */
function decodedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const rewritten = { ...headers };
  const decodedLength = rewritten['x-amz-decoded-content-length'];
  delete rewritten['content-length'];
  if (decodedLength !== undefined) rewritten['content-length'] = String(decodedLength);
  const encodings = String(rewritten['content-encoding'] ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '' && token.toLowerCase() !== 'aws-chunked');
  if (encodings.length > 0) rewritten['content-encoding'] = encodings.join(', ');
  else delete rewritten['content-encoding'];
  delete rewritten['x-amz-decoded-content-length'];
  delete rewritten['x-amz-trailer'];
  rewritten['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return rewritten;
}

/** The query parameters of a SigV2 presigned URL (the AWS CLI v1's `aws s3 presign`). */
const SIGV2_QUERY = new Set(['AWSAccessKeyId', 'Signature', 'Expires']);

/**
 * Makes any credentials acceptable to s3rver, which knows only its own access key id: SigV4
 * gets that key id (s3rver checks no SigV4 signature), and SigV2, whose signatures it does
 * check, loses its signature and goes on anonymously, after the edge has checked a presigned
 * URL's expiry itself. Whether a presigned URL has expired comes back as `expired`.
 */
export function withS3rverCredentials(
  headers: OutgoingHttpHeaders,
  rawQuery: string,
  now: Date = new Date(),
): { headers: OutgoingHttpHeaders; rawQuery: string; expired: boolean } {
  const rewritten = { ...headers };
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    if (/^AWS /i.test(authorization)) delete rewritten.authorization;
    else {
      rewritten.authorization = authorization.replace(
        /Credential=[^/,\s]*\//,
        `Credential=${S3RVER_ACCESS_KEY_ID}/`,
      );
    }
  }
  let expired = false;
  const params = rawQuery === '' ? [] : rawQuery.split('&');
  const isV2 = params.some((param) => param.startsWith('AWSAccessKeyId='));
  const kept = params.flatMap((param) => {
    const name = param.split('=')[0] ?? '';
    if (/^X-Amz-Credential$/i.test(name)) {
      return [param.replace(/=[^&]*?(%2F|\/)/i, `=${S3RVER_ACCESS_KEY_ID}$1`)];
    }
    if (!isV2 || !SIGV2_QUERY.has(name)) return [param];
    if (name === 'Expires') expired = Number(param.slice('Expires='.length)) * 1000 < now.getTime();
    return [];
  });
  return { headers: rewritten, rawQuery: kept.join('&'), expired };
}

/** The wire protocol a request speaks, so an error goes back in a shape its SDK parses. */
function protocolOf(request: IncomingMessage, service: ServiceName | undefined): Protocol {
  if (service === 's3' || service === 'sns') return 'xml';
  if (service !== undefined) return 'json';
  const type = String(request.headers['content-type'] ?? '');
  return request.headers['x-amz-target'] !== undefined || type.includes('json') ? 'json' : 'xml';
}

function sendJson(response: ServerResponse, status: number, body: unknown, head = false): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : text);
}

/** GET answers the rules; POST replaces them with the JSON body and answers the new ones. */
function serveFaults(faults: NonNullable<EdgeControls['faults']>) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') {
      sendJson(response, 200, faults.rules(), request.method === 'HEAD');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      sendJson(response, 400, { error: 'InvalidJson', message: (error as Error).message });
      return;
    }
    try {
      sendJson(response, 200, await faults.replace(body));
    } catch (error) {
      const failure = error as Error;
      sendJson(response, 400, { error: failure.name, message: failure.message });
    }
  };
}

/** Whether something accepts TCP connections at `url` within `timeoutMs`. */
function reachable(url: string, timeoutMs: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

type ServiceState = 'starting' | 'running' | 'error';

/**
 * Starts the one endpoint: a single HTTP server on 127.0.0.1 that sends every AWS API call to
 * the emulator of its service, chosen by the request's SigV4 credential scope (as LocalStack's
 * edge port does), with any credentials. Bodies stream through both ways, so a GB object never
 * sits in memory. `/_sluice/*` answers the edge's own controls.
 */
export async function startEdgeRouter(options: EdgeRouterOptions): Promise<EdgeRouter> {
  const { controls } = options;
  let routes: ServiceRoutes | undefined;
  let routesFailed: string | undefined;
  const routesReady = Promise.resolve(options.routes).then(
    (resolved) => {
      routes = resolved;
      return resolved;
    },
    (error: unknown) => {
      routesFailed = error instanceof Error ? error.message : String(error);
      return undefined;
    },
  );
  const agent = new Agent({ keepAlive: true });

  const health = async (): Promise<Record<ServiceName, ServiceState>> => {
    const states = await Promise.all(
      SERVICES.map(async (service): Promise<ServiceState> => {
        if (routesFailed !== undefined) return 'error';
        if (routes === undefined) return 'starting';
        return (await reachable(routes[service], 500)) ? 'running' : 'error';
      }),
    );
    return Object.fromEntries(SERVICES.map((service, i) => [service, states[i]])) as Record<
      ServiceName,
      ServiceState
    >;
  };

  type Control = (request: IncomingMessage, response: ServerResponse) => Promise<void>;
  /** The controls, by the path under `/_sluice/`, each with the methods it takes. */
  const CONTROLS: Readonly<Record<string, { readonly methods: string; readonly serve: Control }>> =
    {
      health: {
        methods: 'GET, HEAD',
        serve: async (request, response) => {
          sendJson(
            response,
            200,
            { services: await health(), edition: 'local', version: controls.version },
            request.method === 'HEAD',
          );
        },
      },
      endpoint: {
        methods: 'GET, HEAD',
        serve: async (request, response) => {
          const info = controls.endpointInfo();
          if (info === undefined) {
            sendJson(response, 503, { error: 'Starting', message: 'sluice is still starting' });
            return;
          }
          sendJson(response, 200, info, request.method === 'HEAD');
        },
      },
      ...(controls.faults
        ? { faults: { methods: 'GET, HEAD, POST', serve: serveFaults(controls.faults) } }
        : {}),
    };

  const serveControl = async (request: IncomingMessage, response: ServerResponse, path: string) => {
    const name = path.slice(CONTROL_PREFIX.length).replace(/\/$/, '');
    const control = CONTROLS[name];
    if (!control) {
      sendJson(response, 404, {
        error: 'NotFound',
        message: `no control ${path}; there are ${Object.keys(CONTROLS)
          .map((n) => CONTROL_PREFIX + n)
          .join(', ')}`,
      });
      return;
    }
    if (!control.methods.split(', ').includes(request.method ?? '')) {
      response.setHeader('allow', control.methods);
      sendJson(response, 405, {
        error: 'MethodNotAllowed',
        message: `${path} takes ${control.methods}`,
      });
      return;
    }
    await control.serve(request, response);
  };

  const forward = (
    request: IncomingMessage,
    response: ServerResponse,
    service: ServiceName,
    base: string,
  ) => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    let path = queryAt === -1 ? url : url.slice(0, queryAt);
    let rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
    let headers = forwardable(request.headers);
    const http2 = request.httpVersionMajor === 2;
    // HTTP/2 names the host in its `:authority` pseudo-header; HTTP/1.1 requires `host`.
    const authority = request.headers.host ?? request.headers[':authority'];
    const host = typeof authority === 'string' ? authority : undefined;
    if (http2 && host !== undefined) headers.host = host;
    let chunked: AwsChunkedDecoder | undefined;

    if (service === 's3') {
      const vhost = virtualHostBucket(host);
      if (vhost) {
        path = `/${vhost.bucket}${path}`;
        headers.host = vhost.host;
      }
      const credentials = withS3rverCredentials(headers, rawQuery);
      if (credentials.expired) {
        sendAwsError(response, 403, 'xml', 'AccessDenied', 'Request has expired', { s3: true });
        request.resume();
        return;
      }
      ({ headers, rawQuery } = credentials);
      if (isStreamingPayload(request.headers)) {
        const declared = Number(request.headers['x-amz-decoded-content-length']);
        chunked = new AwsChunkedDecoder(Number.isSafeInteger(declared) ? declared : undefined);
        headers = decodedHeaders(headers);
      }
    }

    const target = new URL(base);
    const upstream = httpRequest({
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: rawQuery === '' ? path : `${path}?${rawQuery}`,
      headers,
      agent,
    });
    let bodyError: Error | undefined;
    upstream.on('response', (answer) => {
      const status = answer.statusCode ?? 502;
      // HTTP/2 has no reason phrase.
      if (http2) response.writeHead(status, forwardable(answer.headers));
      else response.writeHead(status, answer.statusMessage, forwardable(answer.headers));
      pipeline(answer, response, () => {
        // A client that goes away mid-body is its choice; the socket is gone either way.
      });
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      const protocol = protocolOf(request, service);
      if (bodyError instanceof MalformedChunkedBody) {
        sendAwsError(response, 400, protocol, 'IncompleteBody', bodyError.message, { s3: true });
      } else if (error.code === 'ECONNRESET') {
        // The emulator (or the fault layer) dropped the connection: the client sees a reset too,
        // not an answer, so it cannot tell whether the call was applied, just as with AWS.
        response.destroy();
      } else if (!response.headersSent && !response.destroyed) {
        sendAwsError(
          response,
          502,
          protocol,
          'BadGateway',
          `sluice: the local ${service} emulator at ${base} is not answering (${error.code ?? error.message})`,
          { s3: service === 's3' },
        );
      } else {
        response.destroy();
      }
    });
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    // Plain pipes, not pipeline(): a backend that fails must not destroy the client's request,
    // or its socket would go before the 502 reaches it.
    request.on('error', () => upstream.destroy());
    if (chunked) {
      chunked.on('error', (error) => {
        bodyError = error;
        upstream.destroy(error);
        // Read the rest of the body away, so the 400 reaches a client still sending it.
        request.unpipe(chunked);
        request.resume();
      });
      request.pipe(chunked).pipe(upstream);
    } else {
      request.pipe(upstream);
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path.startsWith(CONTROL_PREFIX)) {
      await serveControl(request, response, path);
      return;
    }
    const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
    const route = routeOf(request.headers, query);
    if ('unknown' in route) {
      sendAwsError(
        response,
        400,
        protocolOf(request, undefined),
        'UnknownService',
        `sluice serves s3, dynamodb, kinesis, states (Step Functions), sqs and sns, not '${route.unknown}'`,
      );
      return;
    }
    const resolved = routes ?? (await routesReady);
    if (!resolved) {
      sendAwsError(
        response,
        503,
        protocolOf(request, route.service),
        'ServiceUnavailable',
        `sluice: the local stack did not start: ${routesFailed ?? 'unknown error'}`,
        { s3: route.service === 's3' },
      );
      return;
    }
    forward(request, response, route.service, resolved[route.service]);
  };

  const serve = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      sendAwsError(
        response,
        500,
        protocolOf(request, undefined),
        'InternalFailure',
        `sluice: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  };
  const http1: Server = createServer(serve);
  // Large uploads take their time: the defaults would cut a slow multi-GB PUT.
  http1.requestTimeout = 0;
  http1.headersTimeout = 60_000;
  // SDK v3's Kinesis client speaks HTTP/2 by default, cleartext (h2c with prior knowledge), and
  // the emulators speak HTTP/1.1 only: the edge answers both on one port and always forwards
  // HTTP/1.1. Their compatibility request and response are close enough to HTTP/1's for `serve`.
  const http2 = createHttp2Server({}, serve as unknown as Parameters<typeof createHttp2Server>[1]);
  const sockets = new Set<Socket>();
  const tcp = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const sniff = () => {
      const head = socket.read() as Buffer | null;
      if (head === null) {
        socket.once('readable', sniff);
        return;
      }
      socket.unshift(head);
      const start = head.toString('latin1', 0, H2_PREFACE.length);
      if (start.length < H2_PREFACE.length && H2_PREFACE.startsWith(start)) {
        // Too little yet to tell HTTP/2's preface from an HTTP/1 request line.
        socket.once('readable', sniff);
        return;
      }
      (start === H2_PREFACE ? http2 : http1).emit('connection', socket);
    };
    socket.once('readable', sniff);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUse(options.port) : error);
    tcp.once('error', onError);
    tcp.listen(options.port, '127.0.0.1', () => {
      tcp.off('error', onError);
      resolve();
    });
  });
  const { port } = tcp.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        // Neither HTTP server listens itself; closing them only stops their timers.
        http1.close(() => undefined);
        http2.close(() => undefined);
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
      return closing;
    },
  };
}
