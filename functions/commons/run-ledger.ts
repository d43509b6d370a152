import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LEDGER } from './constants.ts';
import type { LedgerItem } from './outcome.ts';
import { ledgerKey } from './outcome.ts';
import type { FileRef } from './types.ts';

/**
 * The run ledger: one item per attempt at a file version (a replay is another attempt), plus one
 * per skipped duplicate event. The client and
 * table come through the constructor, so the CLI, tests and functions share this code.
 */
export class RunLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Writes a final item; the execution that claimed the version owns it. */
  async record(item: LedgerItem): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  /**
   * Records a delivery that was skipped because its version already has an execution. Keyed by
   * the delivery (the SQS message), so a redelivery of the same message writes the same item.
   */
  async recordDuplicate(
    file: FileRef,
    deliveryId: string,
    executionId: string,
    now: Date,
  ): Promise<void> {
    const at = now.toISOString();
    const item: LedgerItem = {
      pk: ledgerKey(file),
      sk: `${file.versionTag}#DUPLICATE#${deliveryId}`,
      bucket: file.bucket,
      key: file.key,
      versionTag: file.versionTag,
      dataset: file.dataset,
      kind: file.kind,
      size: file.size,
      status: 'SKIPPED_DUPLICATE',
      statusAt: `SKIPPED_DUPLICATE#${at}`,
      outputs: [],
      summary: null,
      error: null,
      executionId,
      receivedAt: file.receivedAt,
      startedAt: at,
      finishedAt: at,
      durationMs: 0,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  /** Every item of one object (all versions and duplicates), oldest event first. */
  async history(bucket: string, key: string): Promise<LedgerItem[]> {
    const items: LedgerItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': ledgerKey({ bucket, key }) },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((page.Items ?? []) as LedgerItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  /**
   * One page of a dataset's files from the `byDatasetStatus` index: by status, newest first. Only
   * final items are in the index (its sort key is written with the outcome), so `since` is when
   * a file reached its status: a key condition with a status, a filter without.
   */
  async datasetPage(
    dataset: string,
    options: {
      readonly status?: string;
      readonly since?: string;
      readonly limit: number;
      readonly startKey?: Record<string, unknown>;
    },
  ): Promise<{ items: LedgerItem[]; lastKey?: Record<string, unknown> }> {
    const { status, since, limit, startKey } = options;
    const names: Record<string, string> = { '#dataset': LEDGER.statusIndexPartitionKey };
    const values: Record<string, unknown> = { ':dataset': dataset };
    let condition = '#dataset = :dataset';
    let filter: string | undefined;
    if (status) {
      names['#statusAt'] = LEDGER.statusIndexSortKey;
      values[':from'] = `${status}#${since ?? ''}`;
      // '~' sorts after every character of an ISO time, so this closes the status's range.
      values[':to'] = `${status}#~`;
      condition += ' AND #statusAt BETWEEN :from AND :to';
    } else if (since) {
      values[':since'] = since;
      filter = 'finishedAt >= :since';
    }
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: LEDGER.statusIndex,
        KeyConditionExpression: condition,
        FilterExpression: filter,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: (page.Items ?? []) as LedgerItem[], lastKey: page.LastEvaluatedKey };
  }
}
