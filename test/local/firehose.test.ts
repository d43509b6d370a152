import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGGREGATES_PREFIX } from '#commons/constants.ts';
import type { LocalEndpoint } from '#local/emulators/endpoint.ts';
import { type FirehoseDelivery, startFirehoseDelivery } from '#local/emulators/firehose.ts';
import { localKinesisClient, startLocalKinesis } from '#local/emulators/kinesis.ts';
import { type LocalS3, localS3Client, startLocalS3 } from '#local/emulators/s3.ts';

const bucket = 'sluice-firehose';
const streamName = 'aggregates';
const deliveryStreamName = 'sluice-aggregates';
const KEY = new RegExp(
  `^${AGGREGATES_PREFIX}(\\d{4})/(\\d{2})/(\\d{2})/(\\d{2})/${deliveryStreamName}-1-(\\d{4})-(\\d{2})-(\\d{2})-(\\d{2})-\\d{2}-\\d{2}-[0-9a-f-]{36}$`,
);

describe('startFirehoseDelivery', () => {
  let directory: string;
  let s3: LocalS3;
  let s3Client: S3Client;
  const open: Array<{ close(): Promise<void> }> = [];

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-firehose-'));
    s3 = await startLocalS3({
      directory: join(directory, 's3'),
      bucket,
      onObjectCreated: () => undefined,
    });
    s3Client = localS3Client(s3.endpoint);
  });

  afterEach(async () => {
    for (const resource of open.splice(0).reverse()) await resource.close();
    s3Client.destroy();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function kinesis(path?: string): Promise<LocalEndpoint> {
    const started = await startLocalKinesis({ ...(path ? { path } : {}), streamName });
    open.push(started);
    return started;
  }

  function delivery(
    kinesisEndpoint: string,
    options: { bufferIntervalMs?: number; bufferBytes?: number; checkpointPath?: string } = {},
  ): FirehoseDelivery {
    const started = startFirehoseDelivery({
      kinesisEndpoint,
      streamName,
      s3Endpoint: s3.endpoint,
      bucket,
      prefix: AGGREGATES_PREFIX,
      deliveryStreamName,
      bufferIntervalMs: 60_000,
      ...options,
    });
    open.push(started);
    return started;
  }

  async function putRecords(endpoint: string, records: readonly string[]): Promise<void> {
    const client = localKinesisClient(endpoint);
    try {
      const result = await client.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: records.map((data, index) => ({
            Data: Buffer.from(data),
            PartitionKey: `key-${index}`,
          })),
        }),
      );
      expect(result.FailedRecordCount).toBe(0);
    } finally {
      client.destroy();
    }
  }

  async function objects(): Promise<Array<{ key: string; body: string }>> {
    const listed = await s3Client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: AGGREGATES_PREFIX }),
    );
    const keys = (listed.Contents ?? []).map((object) => object.Key ?? '');
    return Promise.all(
      keys.map(async (key) => {
        const got = await s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { key, body: (await got.Body?.transformToString()) ?? '' };
      }),
    );
  }

  it('writes the records concatenated into one object under the Firehose key layout', async () => {
    // Prepare
    const stream = await kinesis();
    const firehose = delivery(stream.endpoint);
    const records = ['{"n":1}\n', '{"n":2,"é":"ü"}\n', '{"n":3}\n'];
    await putRecords(stream.endpoint, records);

    // Act
    await firehose.flush();
    const afterFirst = await objects();
    await firehose.flush();
    const afterSecond = await objects();

    // Assess
    expect(afterFirst).toEqual([{ key: expect.stringMatching(KEY), body: records.join('') }]);
    const parts = KEY.exec(afterFirst[0]?.key ?? '')?.slice(1) ?? [];
    expect(parts.slice(0, 4)).toEqual(parts.slice(4, 8));
    expect(afterSecond).toEqual(afterFirst);
    expect(firehose.delivered).toBe(3);
  });

  it('does not re-deliver after a restart with a checkpoint', async () => {
    // Prepare
    const kinesisPath = join(directory, 'kinesis');
    const checkpointPath = join(directory, 'firehose', 'checkpoint.json');
    const firstStream = await kinesis(kinesisPath);
    const first = delivery(firstStream.endpoint, { checkpointPath });
    await putRecords(firstStream.endpoint, ['old 1\n', 'old 2\n']);
    await first.flush();
    await first.close();
    await firstStream.close();

    // Act
    const secondStream = await kinesis(kinesisPath);
    const second = delivery(secondStream.endpoint, { checkpointPath });
    await putRecords(secondStream.endpoint, ['new 1\n']);
    await second.close();

    // Assess
    const bodies = (await objects()).map((object) => object.body).sort();
    expect(bodies).toEqual(['new 1\n', 'old 1\nold 2\n']);
    expect(second.delivered).toBe(1);
  });

  it('reads every shard', async () => {
    // Prepare
    const started = await startLocalKinesis({ streamName, shardCount: 3 });
    open.push(started);
    const firehose = delivery(started.endpoint);
    const records = Array.from({ length: 30 }, (_, index) => `${index}\n`);
    await putRecords(started.endpoint, records);

    // Act
    await firehose.flush();

    // Assess
    const lines = (await objects()).flatMap((object) => object.body.split('\n').filter(Boolean));
    expect(lines.sort()).toEqual(records.map((record) => record.trim()).sort());
    expect(firehose.delivered).toBe(30);
  });

  it('reads from the start when its checkpoint belongs to another stream', async () => {
    // Prepare
    const checkpointPath = join(directory, 'checkpoint.json');
    const oldStream = await kinesis();
    const old = delivery(oldStream.endpoint, { checkpointPath });
    await putRecords(oldStream.endpoint, ['old\n']);
    await old.close();
    await oldStream.close();
    const newStream = await kinesis();
    const firehose = delivery(newStream.endpoint, { checkpointPath });
    await putRecords(newStream.endpoint, ['fresh\n']);

    // Act
    await firehose.flush();

    // Assess
    const bodies = (await objects()).map((object) => object.body).sort();
    expect(bodies).toEqual(['fresh\n', 'old\n']);
  });

  it('splits objects when the buffer reaches bufferBytes', async () => {
    // Prepare
    const stream = await kinesis();
    const firehose = delivery(stream.endpoint, { bufferBytes: 10 });
    await putRecords(stream.endpoint, ['aaaaaa\n', 'bbbbbb\n', 'cccccc\n']);

    // Act
    await firehose.flush();

    // Assess
    const bodies = (await objects()).map((object) => object.body).sort();
    expect(bodies).toEqual(['aaaaaa\nbbbbbb\n', 'cccccc\n']);
  });

  it('delivers on its own once the buffer interval has passed', async () => {
    // Prepare
    const stream = await kinesis();
    const firehose = delivery(stream.endpoint, { bufferIntervalMs: 20 });

    // Act
    await putRecords(stream.endpoint, ['tick\n']);
    while (firehose.delivered === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    // Assess
    expect((await objects()).map((object) => object.body)).toEqual(['tick\n']);
  });
});
