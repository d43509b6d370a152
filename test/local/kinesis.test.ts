import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStreamSummaryCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { localKinesisClient, startLocalKinesis } from '#local/emulators/kinesis.ts';

describe('startLocalKinesis', () => {
  it('creates the stream with the shards asked for, ACTIVE', async () => {
    // Prepare
    const kinesis = await startLocalKinesis({ streamName: 'aggregates', shardCount: 2 });
    const client = localKinesisClient(kinesis.endpoint);

    try {
      // Act
      const { StreamDescriptionSummary } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'aggregates' }),
      );

      // Assess
      expect(StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
      expect(StreamDescriptionSummary?.OpenShardCount).toBe(2);
    } finally {
      client.destroy();
      await kinesis.close();
    }
  });

  it('reopens an existing on-disk stream', async () => {
    // Prepare
    const path = await mkdtemp(join(tmpdir(), 'sluice-kinesis-'));
    const first = await startLocalKinesis({ path, streamName: 'aggregates' });
    const firstClient = localKinesisClient(first.endpoint);
    await firstClient.send(
      new PutRecordCommand({
        StreamName: 'aggregates',
        PartitionKey: 'p',
        Data: Buffer.from('x\n'),
      }),
    );
    firstClient.destroy();
    await first.close();

    // Act
    const second = await startLocalKinesis({ path, streamName: 'aggregates' });
    const client = localKinesisClient(second.endpoint);
    try {
      const put = await client.send(
        new PutRecordCommand({
          StreamName: 'aggregates',
          PartitionKey: 'p',
          Data: Buffer.from('y\n'),
        }),
      );

      // Assess
      expect(put.ShardId).toBe('shardId-000000000000');
    } finally {
      client.destroy();
      await second.close();
      await rm(path, { recursive: true, force: true });
    }
  });
});
