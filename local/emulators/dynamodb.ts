import { mkdir } from 'node:fs/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LEDGER } from '#commons/constants.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalEndpoint, serveEmulator } from './endpoint.ts';

const isActive = (table: TableDescription | undefined): boolean =>
  table?.TableStatus === 'ACTIVE' &&
  (table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');

async function ensureLedgerTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (isActive(Table)) return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: LEDGER.partitionKey, AttributeType: 'S' },
          { AttributeName: LEDGER.sortKey, AttributeType: 'S' },
          { AttributeName: LEDGER.statusIndexPartitionKey, AttributeType: 'S' },
          { AttributeName: LEDGER.statusIndexSortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: LEDGER.partitionKey, KeyType: 'HASH' },
          { AttributeName: LEDGER.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: LEDGER.statusIndex,
            KeySchema: [
              { AttributeName: LEDGER.statusIndexPartitionKey, KeyType: 'HASH' },
              { AttributeName: LEDGER.statusIndexSortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (isActive(Table)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`local DynamoDB: table ${tableName} did not become ACTIVE`);
}

/**
 * dynalite on an ephemeral loopback port: in memory when `path` is undefined, else on disk
 * (LevelDB) under `path`. Creates the run-ledger table with its status index if missing, and
 * resolves once it is ACTIVE.
 */
export async function startLocalDynamoDb(options: {
  readonly path?: string;
  readonly tableName: string;
}): Promise<LocalEndpoint> {
  if (options.path !== undefined) await mkdir(options.path, { recursive: true });
  const server = dynalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  return serveEmulator(server, async (endpoint) => {
    const client = new DynamoDBClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await ensureLedgerTable(client, options.tableName);
    } finally {
      client.destroy();
    }
  });
}
