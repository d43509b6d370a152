import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/endpoint.ts';
import { plainObjectRequest } from '#local/emulators/s3-hot-path.ts';
import { useLocalS3 } from '../fixtures/local/s3.ts';

const md5 = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');

describe('plainObjectRequest', () => {
  const now = Date.UTC(2026, 11, 7, 12, 0, 0);
  const signed = {
    authorization:
      'AWS4-HMAC-SHA256 Credential=S3RVER/20261207/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'x-amz-date': '20261207T120000Z',
    host: '127.0.0.1:4569',
  };
  const request = (
    method: string,
    url: string,
    headers: Record<string, string | undefined> = {},
  ): IncomingMessage =>
    ({ method, url, headers: { ...signed, ...headers } }) as unknown as IncomingMessage;

  it("takes an SDK's plain GET, HEAD and PUT, with the key decoded", () => {
    // Act
    const taken = [
      plainObjectRequest(request('GET', '/b/incoming/a%20b%2Bc.csv?x-id=GetObject'), now),
      plainObjectRequest(request('HEAD', '/b/k'), now),
      plainObjectRequest(request('PUT', '/b/d/%C3%A9.png?x-id=PutObject'), now),
    ];

    // Assess
    expect(taken).toEqual([
      { method: 'GET', bucket: 'b', key: 'incoming/a b+c.csv' },
      { method: 'HEAD', bucket: 'b', key: 'k' },
      { method: 'PUT', bucket: 'b', key: 'd/é.png' },
    ]);
  });

  it('leaves everything else to s3rver', () => {
    // Prepare
    const declined: Array<[string, IncomingMessage]> = [
      ['a range', request('GET', '/b/k', { range: 'bytes=0-1' })],
      ['a condition', request('GET', '/b/k', { 'if-none-match': '"x"' })],
      ['CORS', request('GET', '/b/k', { origin: 'http://example.com' })],
      ['a copy', request('PUT', '/b/k', { 'x-amz-copy-source': 'b/j' })],
      ['a storage class', request('PUT', '/b/k', { 'x-amz-storage-class': 'GLACIER' })],
      ['a subresource', request('PUT', '/b/k?tagging')],
      ['a multipart part', request('PUT', '/b/k?partNumber=1&uploadId=u')],
      ['a listing', request('GET', '/b?list-type=2')],
      ['a bucket', request('PUT', '/b')],
      ['a delete', request('DELETE', '/b/k')],
      ['a trailing slash', request('PUT', '/b/folder/')],
      ['an empty segment', request('GET', '/b/a//k')],
      ['bad percent-encoding', request('GET', '/b/%E0%A4%A')],
      ['anonymous', request('GET', '/b/k', { authorization: undefined })],
      [
        'another key',
        request('GET', '/b/k', { authorization: signed.authorization.replace('S3RVER', 'AKIA') }),
      ],
      ['SigV2', request('GET', '/b/k', { authorization: 'AWS S3RVER:c2ln' })],
      ['a presigned URL', request('GET', '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256')],
      [
        'a streamed payload',
        request('PUT', '/b/k', { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }),
      ],
      ['no payload hash', request('PUT', '/b/k', { 'x-amz-content-sha256': undefined })],
      ['a skewed clock', request('GET', '/b/k', { 'x-amz-date': '20261207T114459Z' })],
      ['a virtual host', request('GET', '/k', { host: 'b.s3.amazonaws.com' })],
    ];

    // Act
    const taken = declined.filter(([, declinedRequest]) =>
      plainObjectRequest(declinedRequest, now),
    );

    // Assess
    expect(taken.map(([reason]) => reason)).toEqual([]);
  });
});

describe('the local S3 hot path', () => {
  const bucket = 'sluice-test';
  const refusedKey = 'incoming/refused.csv';
  const seen: string[] = [];
  const local = useLocalS3({
    bucket,
    onObjectCreated: (event) => {
      if (event.detail.object.key === refusedKey) throw new Error('the queue is full');
      seen.push(event.detail['request-id']);
    },
  });

  const onDisk = (key: string, resource: string) =>
    join(local.directory, bucket, `${key}._S3rver_${resource}`);

  it('stores a small PUT as one file, which s3rver lists with the same ETag', async () => {
    // Prepare
    const key = 'incoming/small/data.csv';
    const body = 'id,name\n1,ada\n';

    // Act
    const put = await local.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'text/csv',
        CacheControl: 'no-cache',
        Metadata: { source: 'test' },
      }),
    );
    const got = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const listed = await local.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'incoming/small/' }),
    );

    // Assess: the hot path answered (s3rver sends no request id), and its event has that id.
    expect(put.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);
    expect(seen).toContain(put.$metadata.requestId);
    expect(got.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);
    expect(await got.Body?.transformToString()).toBe(body);
    expect([got.ETag, got.ContentType, got.CacheControl, got.Metadata]).toEqual([
      `"${md5(body)}"`,
      'text/csv',
      'no-cache',
      { source: 'test' },
    ]);
    // Its ETag and headers are in the metadata store, not in files of their own.
    expect(readdirSync(dirname(onDisk(key, 'object')))).toEqual(['data.csv._S3rver_object']);
    expect(await readFile(onDisk(key, 'object'), 'utf8')).toBe(body);
    expect(listed.Contents?.map((object) => [object.Key, object.ETag, object.Size])).toEqual([
      [key, `"${md5(body)}"`, body.length],
    ]);
  });

  it('streams an object over 256 KiB both ways', async () => {
    // Prepare
    const key = 'incoming/large/photo.png';
    const body = Buffer.alloc(300 * 1024, 9);

    // Act
    const put = await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }),
    );
    const got = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const head = await local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    // Assess
    const read = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect(read.equals(body)).toBe(true);
    expect([put.ETag, head.ContentLength]).toEqual([`"${md5(body)}"`, body.length]);
    expect(got.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);
  });

  it('leaves ranges, conditions and missing buckets to s3rver', async () => {
    // Prepare
    const key = 'incoming/ranged.txt';
    const { ETag } = await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: '0123456789' }),
    );

    // Act
    const ranged = await local.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=2-4' }),
    );
    const unchanged = local.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: ETag }),
    );
    const noBucket = local.client.send(
      new PutObjectCommand({ Bucket: 'no-such', Key: 'k', Body: 'x' }),
    );

    // Assess
    expect(await ranged.Body?.transformToString()).toBe('234');
    expect(ranged.ContentRange).toBe('bytes 2-4/10');
    await expect(unchanged).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
    await expect(noBucket).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('answers a missing key with NoSuchKey, as s3rver words it', async () => {
    // Act
    const [missing, headed] = await Promise.allSettled([
      local.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'incoming/a&b <none>' })),
      local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'incoming/none' })),
    ]);

    // Assess
    expect(missing).toMatchObject({
      status: 'rejected',
      reason: {
        name: 'NoSuchKey',
        message: 'The specified key does not exist.',
        Key: 'incoming/a&b <none>',
        $metadata: { httpStatusCode: 404, requestId: expect.stringMatching(/^[0-9A-F]{16}$/) },
      },
    });
    expect(headed).toMatchObject({
      status: 'rejected',
      reason: { name: 'NotFound', $metadata: { httpStatusCode: 404 } },
    });
  });

  it('hashes an object whose file changed after its entry was stored, keeping its headers', async () => {
    // Prepare: a crash between writing the file and its entry leaves the old entry.
    const key = 'incoming/changed.txt';
    await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'before', ContentType: 'text/plain' }),
    );
    await writeFile(onDisk(key, 'object'), 'after the crash');

    // Act
    const got = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    // Assess
    expect(await got.Body?.transformToString()).toBe('after the crash');
    expect([got.ETag, got.ContentType]).toEqual([`"${md5('after the crash')}"`, 'text/plain']);
  });

  it('closes the file of a large GET whose local.client goes away mid-body', async () => {
    // Prepare
    const key = 'incoming/large/dropped.bin';
    await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(2 * 1024 * 1024, 1) }),
    );
    const file = onDisk(key, 'object');
    const holding = () =>
      readdirSync('/proc/self/fd').some((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false;
        }
      });

    // Act
    const got = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    (got.Body as Readable).destroy();
    let held = true;
    for (let wait = 0; held && wait < 40; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      held = holding();
    }

    // Assess
    expect(held).toBe(false);
  });

  it('gives an object stored without an entry its MD5 and the default type, as S3 does', async () => {
    // Prepare: a crash before the first entry of a new key leaves the file alone.
    const key = 'incoming/untyped.txt';
    await mkdir(dirname(onDisk(key, 'object')), { recursive: true });
    await writeFile(onDisk(key, 'object'), 'x');

    // Act
    const head = await local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    // Assess
    expect([head.ETag, head.ContentType]).toEqual([`"${md5('x')}"`, 'binary/octet-stream']);
  });

  it('answers a PUT whose event is refused with a 500, so that the local.client retries', async () => {
    // Prepare
    const once = new S3Client({
      endpoint: local.s3.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
    });

    // Act
    const put = once.send(new PutObjectCommand({ Bucket: bucket, Key: refusedKey, Body: 'x' }));

    // Assess
    await expect(put).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
    once.destroy();
  });
});
