import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { encodeS3EventKey, type S3ObjectCreatedEvent } from '#local/emulators/s3.ts';
import { useLocalS3 } from '../fixtures/local/s3.ts';

const md5 = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');

describe('encodeS3EventKey', () => {
  it('encodes a key as S3 notifications do', () => {
    // Prepare
    const key = 'a b+c/é.csv';

    // Act
    const encoded = encodeS3EventKey(key);

    // Assess
    expect(encoded).toBe('a+b%2Bc/%C3%A9.csv');
  });

  it('round-trips through form decoding', () => {
    // Prepare
    const keys = ['a b+c/é.csv', 'incoming/x (1)/日本 語 ✓.png', "q?&=%#~!'*_-.", 'emoji 🐟+'];

    // Act
    const decoded = keys.map((key) =>
      decodeURIComponent(encodeS3EventKey(key).replace(/\+/g, ' ')),
    );

    // Assess
    expect(decoded).toEqual(keys);
  });
});

describe('startLocalS3', () => {
  const bucket = 'sluice-test';
  const events: S3ObjectCreatedEvent[] = [];
  const local = useLocalS3({ bucket, onObjectCreated: (event) => events.push(event) });

  /** Resolves the events for `key` once there are `count` of them. */
  async function eventsFor(key: string, count = 1): Promise<S3ObjectCreatedEvent[]> {
    const encoded = encodeS3EventKey(key);
    for (;;) {
      const found = events.filter((event) => event.detail.object.key === encoded);
      if (found.length >= count) return found;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('stores the exact bytes of a streamed PutObject body', async () => {
    // Prepare
    const chunks = [Buffer.from('id,name\n'), Buffer.alloc(200_000, 'x'), Buffer.from('\n1,é\n')];
    const expected = Buffer.concat(chunks);

    // Act
    await local.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'incoming/streamed.csv',
        Body: Readable.from(chunks),
        ContentLength: expected.byteLength,
      }),
    );
    const got = await local.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'incoming/streamed.csv' }),
    );

    // Assess
    const stored = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect(stored.equals(expected)).toBe(true);
  });

  it('pages a listing of more than 1000 keys with continuation tokens', async () => {
    // Prepare
    const keys = Array.from({ length: 1100 }, (_, i) => `listed/k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((key) =>
            local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' })),
          ),
      );
    }

    // Act
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await local.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'listed/', ContinuationToken: token }),
      );
      listed.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);

    // Assess
    expect(listed).toEqual(keys);
  });

  it('reports a put as one EventBridge Object Created event with the key encoded', async () => {
    // Prepare
    const key = 'incoming/my data/a b+c é.csv';
    const body = 'id\n1\n';

    // Act
    const put = await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }),
    );
    const [event, ...others] = await eventsFor(key);

    // Assess
    expect(others).toEqual([]);
    expect(put.ETag).toBe(`"${md5(body)}"`);
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: expect.stringMatching(/^\d{12}$/),
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${bucket}`],
      detail: {
        version: '0',
        bucket: { name: bucket },
        object: {
          key: 'incoming/my+data/a+b%2Bc+%C3%A9.csv',
          size: 5,
          etag: md5(body),
          sequencer: expect.stringMatching(/^[0-9A-F]+$/),
        },
        'request-id': expect.any(String),
        requester: expect.any(String),
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject',
      },
    });
  });

  it('reports a copy with its ETag', async () => {
    // Prepare
    const body = 'copied bytes\n';
    await local.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'incoming/src.csv', Body: body }),
    );

    // Act
    await local.client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'quarantine/dst é.csv',
        CopySource: `${bucket}/${encodeURIComponent('incoming/src.csv')}`,
      }),
    );
    const [event] = await eventsFor('quarantine/dst é.csv');

    // Assess
    expect(event?.detail).toMatchObject({
      reason: 'CopyObject',
      object: { key: 'quarantine/dst+%C3%A9.csv', etag: md5(body), size: body.length },
    });
  });

  it('reports a multipart upload completion as CompleteMultipartUpload', async () => {
    // Prepare
    const key = 'incoming/big file.bin';
    const parts = [Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.from('tail')];
    const { UploadId } = await local.client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
    );
    const uploaded = [];
    for (const [index, part] of parts.entries()) {
      const { ETag } = await local.client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: index + 1,
          Body: part,
        }),
      );
      uploaded.push({ ETag, PartNumber: index + 1 });
    }

    // Act
    const completed = await local.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: uploaded },
      }),
    );
    const [event] = await eventsFor(key);

    // Assess
    expect(event?.detail).toMatchObject({
      reason: 'CompleteMultipartUpload',
      object: {
        key: 'incoming/big+file.bin',
        size: Buffer.concat(parts).byteLength,
        etag: completed.ETag?.replace(/"/g, ''),
      },
    });
  });
  it('replaces an object whole: a read during an overwrite never sees it cut short', async () => {
    // Prepare: 4 MiB, so that a write takes many chunks.
    const key = 'incoming/big/overwritten.bin';
    const body = Buffer.alloc(4 * 1024 * 1024, 7);
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

    // Act: overwrite it with the same bytes while reading it.
    const writes = Array.from({ length: 4 }, () =>
      local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })),
    );
    const reads = Array.from({ length: 8 }, async () => {
      const response = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await response.Body?.transformToByteArray())?.length;
    });
    const [lengths] = await Promise.all([Promise.all(reads), Promise.all(writes)]);

    // Assess
    expect(lengths).toEqual(Array(8).fill(body.length));
  });
  it('answers a HEAD after an overwrite, a copy and a delete with what is there now', async () => {
    // Prepare
    const key = 'incoming/seen/again.txt';
    const copy = 'quarantine/seen/again.txt';
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first' }));
    await local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    // Act
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second' }));
    const overwritten = await local.client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key }),
    );
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: copy, Body: 'old copy' }));
    await local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: copy }));
    await local.client.send(
      new CopyObjectCommand({ Bucket: bucket, Key: copy, CopySource: `${bucket}/${key}` }),
    );
    const copied = await local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: copy }));
    await local.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const deleted = local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    // Assess
    expect([overwritten.ETag, overwritten.ContentLength]).toEqual([`"${md5('second')}"`, 6]);
    expect(copied.ETag).toBe(`"${md5('second')}"`);
    await expect(deleted).rejects.toThrow();
  });
});
