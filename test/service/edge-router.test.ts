import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '#local/emulators/s3.ts';
import {
  AwsChunkedDecoder,
  type EdgeRouter,
  MalformedChunkedBody,
  PortInUse,
  type ServiceName,
  startEdgeRouter,
  virtualHostBucket,
  withS3rverCredentials,
} from '#local/service/edge-router.ts';

const PHOTO = join(import.meta.dirname, '../../sample-data/photos/dunes-small.png');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const CONTROLS = { version: '9.9.9', endpointInfo: () => ({ bucket: 'b' }) };

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A real HTTP server standing in for an emulator: it answers `{}` and keeps what it saw. */
async function recordingBackend(): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(chunks),
    });
    if (request.url === '/hang') return;
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** A loopback URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One raw HTTP/1.1 request, headers exactly as given (fetch cannot set Host). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers });
    request.on('error', reject);
    request.on('response', async (response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
    });
    request.end(options.body);
  });
}

const sigV4 = (service: string, key = 'AKIDEXAMPLE') =>
  `AWS4-HMAC-SHA256 Credential=${key}/20261202/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;

/** Frames `data` the way SDK v3 and botocore send `aws-chunked` bodies. */
function awsChunked(data: Buffer, chunkSize: number, options: { signed?: boolean } = {}): Buffer {
  const extension = options.signed ? `;chunk-signature=${'a'.repeat(64)}` : '';
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) {
    const chunk = data.subarray(at, at + chunkSize);
    parts.push(
      Buffer.from(`${chunk.length.toString(16)}${extension}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`0${extension}\r\n`));
  parts.push(Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n'));
  if (options.signed) parts.push(Buffer.from(`x-amz-trailer-signature:${'b'.repeat(64)}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function decode(encoded: Buffer, pieceSize: number, expected?: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < encoded.length; at += pieceSize) {
    pieces.push(encoded.subarray(at, at + pieceSize));
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), new AwsChunkedDecoder(expected), async (source) => {
    for await (const chunk of source) out.push(chunk as Buffer);
  });
  return Buffer.concat(out);
}

describe('AwsChunkedDecoder', () => {
  const data = randomBytes(1000);

  it.each([
    ['unsigned with a checksum trailer', false],
    ['signed chunks with a signed trailer', true],
  ])('gives back the bytes of a %s body, however the stream splits it', async (_name, signed) => {
    // Prepare
    const encoded = awsChunked(data, 300, { signed });

    // Act
    const decoded = await Promise.all(
      [1, 2, 3, 7, 64, encoded.length].map((n) => decode(encoded, n)),
    );

    // Assess
    for (const body of decoded) expect(body.equals(data)).toBe(true);
  });

  it('rejects a body that is not aws-chunked', async () => {
    // Act
    const decoding = decode(Buffer.from('hello, world\r\n'), 5);

    // Assess
    await expect(decoding).rejects.toBeInstanceOf(MalformedChunkedBody);
  });

  it('rejects a body that ends before its final chunk', async () => {
    // Prepare
    const cut = awsChunked(data, 300).subarray(0, 500);

    // Act
    const decoding = decode(cut, 64);

    // Assess
    await expect(decoding).rejects.toThrow('ended before its final chunk');
  });

  it('rejects a body whose length differs from x-amz-decoded-content-length', async () => {
    // Act
    const decoding = decode(awsChunked(data, 300), 64, 999);

    // Assess
    await expect(decoding).rejects.toThrow(/999 bytes x-amz-decoded-content-length says|says 999/);
  });
});

describe('virtualHostBucket', () => {
  it.each([
    ['photos.localhost:4599', { bucket: 'photos', host: 'localhost:4599' }],
    ['photos.s3.localhost:4599', { bucket: 'photos', host: 'localhost:4599' }],
    ['my.dotted.bucket.127.0.0.1:4599', { bucket: 'my.dotted.bucket', host: '127.0.0.1:4599' }],
    ['127.0.0.1:4599', undefined],
    ['localhost', undefined],
    ['s3.localhost:4599', undefined],
  ])('reads %s', (host, expected) => {
    // Act
    const found = virtualHostBucket(host);

    // Assess
    expect(found).toEqual(expected);
  });
});

describe('withS3rverCredentials', () => {
  it('gives SigV4 requests the access key id s3rver knows', () => {
    // Act
    const { headers, rawQuery } = withS3rverCredentials(
      { authorization: sigV4('s3', 'test') },
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=anything%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=900',
    );

    // Assess
    expect(headers.authorization).toContain('Credential=S3RVER/20261202/us-east-1/s3/aws4_request');
    expect(rawQuery).toBe(
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=900',
    );
  });

  it('sends SigV2 on anonymously, after checking a presigned URL has not expired', () => {
    // Prepare
    const now = new Date('2026-12-02T12:00:00Z');
    const expires = now.getTime() / 1000;

    // Act
    const live = withS3rverCredentials(
      { authorization: 'AWS test:c2lnbmF0dXJl' },
      `AWSAccessKeyId=test&Signature=abc%3D&Expires=${expires + 60}&versionId=1`,
      now,
    );
    const stale = withS3rverCredentials(
      {},
      `AWSAccessKeyId=test&Signature=x&Expires=${expires - 1}`,
      now,
    );

    // Assess
    expect(live).toEqual({ headers: {}, rawQuery: 'versionId=1', expired: false });
    expect(stale.expired).toBe(true);
  });
});

describe('startEdgeRouter: routing', () => {
  const backends = {} as Record<ServiceName, Awaited<ReturnType<typeof recordingBackend>>>;
  let router: EdgeRouter;
  const routes = () => ({
    s3: backends.s3.url,
    dynamodb: backends.dynamodb.url,
    kinesis: backends.kinesis.url,
    stepfunctions: backends.stepfunctions.url,
    sqs: backends.sqs.url,
    sns: backends.sns.url,
  });

  beforeAll(async () => {
    for (const service of ['s3', 'dynamodb', 'kinesis', 'stepfunctions', 'sqs', 'sns'] as const) {
      backends[service] = await recordingBackend();
    }
    router = await startEdgeRouter({
      port: 0,
      routes: routes(),
      controls: CONTROLS,
    });
  });

  afterAll(async () => {
    await router?.close();
    for (const { server } of Object.values(backends)) server.close();
  });

  const last = (service: ServiceName) => backends[service].seen.at(-1);

  it.each([
    ['s3', 's3'],
    ['dynamodb', 'dynamodb'],
    ['kinesis', 'kinesis'],
    ['states', 'stepfunctions'],
    ['sqs', 'sqs'],
    ['sns', 'sns'],
  ] as const)('sends a request signed for %s to %s', async (signingName, service) => {
    // Prepare
    const marker = `/${signingName}-${randomBytes(4).toString('hex')}`;

    // Act
    const answer = await send(router.endpoint + marker, {
      method: 'POST',
      headers: { authorization: sigV4(signingName), 'x-amz-date': '20261202T120000Z' },
      body: '{}',
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(last(service)?.url).toBe(marker);
  });

  it('routes a presigned URL by its X-Amz-Credential', async () => {
    // Prepare
    const query =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=mine%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00';

    // Act
    const answer = await send(`${router.endpoint}/bucket/a%20key.png?${query}`);

    // Assess
    expect(answer.status).toBe(200);
    expect(last('s3')?.url).toBe(`/bucket/a%20key.png?${query.replace('mine', 'S3RVER')}`);
  });

  it('gives S3 the key id s3rver knows, and the other services the one the client sent', async () => {
    // Act
    await send(`${router.endpoint}/b/k`, { headers: { authorization: sigV4('s3', 'client-key') } });
    await send(router.endpoint, {
      method: 'POST',
      headers: { authorization: sigV4('dynamodb', 'client-key') },
    });

    // Assess
    expect(last('s3')?.headers.authorization).toContain('Credential=S3RVER/');
    expect(last('dynamodb')?.headers.authorization).toContain('Credential=client-key/');
  });

  it.each([
    ['DynamoDB_20120810.ListTables', 'dynamodb'],
    ['Kinesis_20131202.ListStreams', 'kinesis'],
    ['AWSStepFunctions.ListExecutions', 'stepfunctions'],
    ['AmazonSQS.ListQueues', 'sqs'],
  ] as const)('sends an unsigned %s by its X-Amz-Target', async (target, service) => {
    // Act
    const answer = await send(router.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(last(service)?.headers['x-amz-target']).toBe(target);
  });

  it('sends an unsigned request with no target to S3, virtual-host style turned path style', async () => {
    // Act
    await send(`${router.endpoint}/a%20key.png?versionId=7`, {
      headers: { host: `photos.localhost:${router.port}` },
    });

    // Assess
    expect(last('s3')?.url).toBe('/photos/a%20key.png?versionId=7');
    expect(last('s3')?.headers.host).toBe(`localhost:${router.port}`);
  });

  it('answers a service it does not serve with an AWS-shaped 400, JSON or XML as asked', async () => {
    // Act
    const json = await send(router.endpoint, {
      method: 'POST',
      headers: {
        authorization: sigV4('events'),
        'x-amz-target': 'AWSEvents.ListRules',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    const xml = await send(router.endpoint, {
      method: 'POST',
      headers: { authorization: sigV4('sts'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity',
    });

    // Assess
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body)).toEqual({
      __type: 'UnknownService',
      message:
        "sluice serves s3, dynamodb, kinesis, states (Step Functions), sqs and sns, not 'events'",
    });
    expect(xml.status).toBe(400);
    expect(xml.body).toContain('<Code>UnknownService</Code>');
    expect(xml.body).toContain("not 'sts'");
  });

  it('reaches the Kinesis client of SDK v3, which speaks HTTP/2 by default', async () => {
    // Prepare
    const kinesis = new KinesisClient({
      endpoint: router.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });

    // Act
    await kinesis.send(new ListStreamsCommand({}));
    kinesis.destroy();

    // Assess
    expect(last('kinesis')?.headers['x-amz-target']).toBe('Kinesis_20131202.ListStreams');
    expect(last('kinesis')?.headers.host).toBe(`127.0.0.1:${router.port}`);
  });

  it('answers /_sluice/health and /_sluice/endpoint, and names its controls on a 404', async () => {
    // Act
    const health = await send(`${router.endpoint}/_sluice/health`);
    const endpoint = await send(`${router.endpoint}/_sluice/endpoint`);
    const unknown = await send(`${router.endpoint}/_sluice/nothing`);

    // Assess
    expect(JSON.parse(health.body)).toEqual({
      services: {
        s3: 'running',
        dynamodb: 'running',
        kinesis: 'running',
        stepfunctions: 'running',
        sqs: 'running',
        sns: 'running',
      },
      edition: 'local',
      version: '9.9.9',
    });
    expect(JSON.parse(endpoint.body)).toEqual({ bucket: 'b' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('/_sluice/health, /_sluice/endpoint');
  });

  it('closes within a second, with a request in flight and an idle kept-alive connection', async () => {
    // Prepare
    const extra = await startEdgeRouter({
      port: 0,
      routes: routes(),
      controls: CONTROLS,
    });
    const agent = new Agent({ keepAlive: true });
    await new Promise((resolve) => httpRequest(`${extra.endpoint}/b/k`, { agent }, resolve).end());
    const hanging = new Promise((resolve) =>
      httpRequest(`${extra.endpoint}/hang`, { agent }).on('error', resolve).end(),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    const started = Date.now();
    await extra.close();
    const took = Date.now() - started;

    // Assess
    expect(took).toBeLessThan(1000);
    await expect(hanging).resolves.toBeInstanceOf(Error);
    agent.destroy();
  });

  it('fails with PortInUse on a port that is taken', async () => {
    // Act
    const second = startEdgeRouter({ port: router.port, routes: routes(), controls: CONTROLS });

    // Assess
    await expect(second).rejects.toBeInstanceOf(PortInUse);
    await expect(second).rejects.toThrow(`port ${router.port} on 127.0.0.1 is already in use`);
  });
});

describe('startEdgeRouter: in front of s3rver', () => {
  const bucket = 'edge-test';
  let directory: string;
  let s3rver: LocalS3;
  let router: EdgeRouter;
  let client: S3Client;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-edge-'));
    s3rver = await startLocalS3({ directory, bucket, onObjectCreated: () => undefined });
    const dead = await deadUrl();
    router = await startEdgeRouter({
      port: 0,
      routes: {
        s3: s3rver.endpoint,
        dynamodb: dead,
        kinesis: dead,
        stepfunctions: dead,
        sqs: dead,
        sns: dead,
      },
      controls: CONTROLS,
    });
    // The SDK's defaults: checksums whenever supported, so streamed bodies go aws-chunked.
    client = new S3Client({
      endpoint: router.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'anything', secretAccessKey: 'anything' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await router?.close();
    await s3rver?.close();
    await rm(directory, { recursive: true, force: true });
  });

  const stored = async (key: string) => {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array()));
  };

  it('stores a streamed PutObject as its bytes, not its aws-chunked framing', async () => {
    // Prepare
    const photo = await readFile(PHOTO);
    const key = 'incoming/photos/My Trip (1).png';

    // Act
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: Readable.from([photo]),
        ContentLength: photo.length,
        ContentType: 'image/png',
      }),
    );

    // Assess
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(photo.length);
    expect(head.ContentEncoding).toBeUndefined();
    expect(sha256(await stored(key))).toBe(sha256(photo));
  });

  it('stores a multipart upload of streamed parts as its bytes', async () => {
    // Prepare
    const data = randomBytes(11 * 1024 * 1024 + 123);
    const key = 'big/random.bin';

    // Act
    await new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: Readable.from([data.subarray(0, 7e6), data.subarray(7e6)]),
      },
      partSize: 5 * 1024 * 1024,
    }).done();

    // Assess
    expect(sha256(await stored(key))).toBe(sha256(data));
  });

  it('answers a raw aws-chunked PUT with a broken frame with a 400', async () => {
    // Act
    const answer = await send(`${router.endpoint}/${bucket}/broken`, {
      method: 'PUT',
      headers: {
        authorization: sigV4('s3'),
        'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '5',
      },
      body: 'zz\r\nhello\r\n0\r\n\r\n',
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>IncompleteBody</Code>');
  });

  it('answers a call to a service that is down with a 502 that says which', async () => {
    // Act
    const answer = await send(router.endpoint, {
      method: 'POST',
      headers: { authorization: sigV4('dynamodb'), 'x-amz-target': 'DynamoDB_20120810.ListTables' },
      body: '{}',
    });

    // Assess
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toMatchObject({ __type: 'BadGateway' });
    expect(JSON.parse(answer.body).message).toMatch(
      /^sluice: the local dynamodb emulator at http:\/\/127\.0\.0\.1:\d+ is not answering \(ECONNREFUSED\)$/,
    );
    const health = JSON.parse((await send(`${router.endpoint}/_sluice/health`)).body);
    expect(health.services).toEqual({
      s3: 'running',
      dynamodb: 'error',
      kinesis: 'error',
      stepfunctions: 'error',
      sqs: 'error',
      sns: 'error',
    });
  });
});

describe('startEdgeRouter: before the stack is up', () => {
  it('holds the port, reports the services as starting, and a stack that failed as a 503', async () => {
    // Prepare
    let fail!: (error: Error) => void;
    const routes = new Promise<never>((_resolve, reject) => {
      fail = reject;
    });
    const router = await startEdgeRouter({ port: 0, routes, controls: CONTROLS });

    try {
      // Act
      const starting = JSON.parse((await send(`${router.endpoint}/_sluice/health`)).body);
      const waiting = send(`${router.endpoint}/bucket/key`);
      fail(new Error('dynalite would not open its data'));
      const failed = await waiting;

      // Assess
      expect(starting.services.s3).toBe('starting');
      expect(failed.status).toBe(503);
      expect(failed.body).toContain(
        'the local stack did not start: dynalite would not open its data',
      );
    } finally {
      await router.close();
    }
  });
});
