import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { LEDGER } from '#commons/constants.ts';
import { startLocalDynamoDb } from '#local/emulators/dynamodb.ts';

const clientFor = (endpoint: string): DynamoDBClient =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

describe('startLocalDynamoDb', () => {
  it('creates the ledger table with its status index, ACTIVE and queryable', async () => {
    // Prepare
    const dynamo = await startLocalDynamoDb({ tableName: 'ledger' });
    const client = clientFor(dynamo.endpoint);

    try {
      // Act
      const { Table } = await client.send(new DescribeTableCommand({ TableName: 'ledger' }));
      await client.send(
        new PutItemCommand({
          TableName: 'ledger',
          Item: {
            pk: { S: 'FILE#incoming/a.csv' },
            sk: { S: 'VERSION#1' },
            dataset: { S: 'orders' },
            statusAt: { S: 'FAILED#2026-11-22T17:00:00Z' },
          },
        }),
      );
      const failed = await client.send(
        new QueryCommand({
          TableName: 'ledger',
          IndexName: LEDGER.statusIndex,
          KeyConditionExpression: 'dataset = :d AND begins_with(statusAt, :s)',
          ExpressionAttributeValues: { ':d': { S: 'orders' }, ':s': { S: 'FAILED#' } },
        }),
      );

      // Assess
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.KeySchema).toEqual([
        { AttributeName: LEDGER.partitionKey, KeyType: 'HASH' },
        { AttributeName: LEDGER.sortKey, KeyType: 'RANGE' },
      ]);
      expect(Table?.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: LEDGER.statusIndex,
          IndexStatus: 'ACTIVE',
          KeySchema: [
            { AttributeName: LEDGER.statusIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: LEDGER.statusIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ]);
      expect(failed.Items?.map((item) => item.pk?.S)).toEqual(['FILE#incoming/a.csv']);
    } finally {
      client.destroy();
      await dynamo.close();
    }
  });

  it('persists items on disk across a close and a start', async () => {
    // Prepare
    const path = await mkdtemp(join(tmpdir(), 'sluice-dynamodb-'));
    const key = { pk: { S: 'FILE#incoming/b.csv' }, sk: { S: 'VERSION#1' } };
    const first = await startLocalDynamoDb({ path, tableName: 'ledger' });
    const firstClient = clientFor(first.endpoint);
    await firstClient.send(
      new PutItemCommand({ TableName: 'ledger', Item: { ...key, status: { S: 'SUCCEEDED' } } }),
    );
    firstClient.destroy();
    await first.close();

    // Act
    const second = await startLocalDynamoDb({ path, tableName: 'ledger' });
    const secondClient = clientFor(second.endpoint);
    try {
      const { Item } = await secondClient.send(
        new GetItemCommand({ TableName: 'ledger', Key: key }),
      );

      // Assess
      expect(Item?.status).toEqual({ S: 'SUCCEEDED' });
    } finally {
      secondClient.destroy();
      await second.close();
      await rm(path, { recursive: true, force: true });
    }
  });
});
