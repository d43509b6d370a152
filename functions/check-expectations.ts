import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { LEDGER } from '#commons/constants.ts';
import {
  type DatasetExpectation,
  missedSlot,
  type RowsExpectation,
  rowDrift,
} from '#commons/expectations.ts';
import { expectationsJson, tableName } from '#commons/helpers/config.ts';
import { classifyError } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { publishNotice } from '#commons/helpers/notices.ts';
import { lateArrivalNotice, type Notice, rowDriftNotice } from '#commons/notices.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import type { FileStatus } from '#commons/types.ts';

/** Every status a file version's item can have: a file that arrived has one of them. */
const STATUSES: readonly FileStatus[] = [
  'PROCESSING',
  'SUCCEEDED',
  'FAILED',
  'QUARANTINED',
  'SKIPPED_DUPLICATE',
];
/** Newest files whose row counts each run looks at, and how far back. */
const RECENT_FILES = 20;
const RECENT_MS = 24 * 3600_000;

/** Items of a dataset with a status, newest first, from `since` on. */
async function itemsOf(
  dataset: string,
  status: FileStatus,
  limit: number,
  since = '',
): Promise<LedgerItem[]> {
  const { Items = [] } = await dynamodb.send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: LEDGER.statusIndex,
      KeyConditionExpression: '#dataset = :dataset AND #statusAt BETWEEN :from AND :to',
      ExpressionAttributeNames: {
        '#dataset': LEDGER.statusIndexPartitionKey,
        '#statusAt': LEDGER.statusIndexSortKey,
      },
      ExpressionAttributeValues: {
        ':dataset': dataset,
        ':from': `${status}#${since}`,
        ':to': `${status}#\uffff`,
      },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return Items as LedgerItem[];
}

const timeOf = (item: LedgerItem) => item.statusAt.slice(item.statusAt.indexOf('#') + 1);

/**
 * Publishes a notice once: the ledger keeps a mark per notice (`EXPECTATIONS#<dataset>`), put
 * after the publish, so a run that dies in between publishes again (at least once), and a later
 * run does not.
 */
async function notifyOnce(dataset: string, id: string, notice: Notice): Promise<boolean> {
  const key = { pk: `EXPECTATIONS#${dataset}`, sk: id };
  const { Item } = await dynamodb.send(new GetCommand({ TableName: tableName(), Key: key }));
  if (Item) return false;
  await publishNotice(notice);
  await dynamodb.send(new PutCommand({ TableName: tableName(), Item: { ...key, ...notice.body } }));
  logger.warn('expectation missed', { dataset, notice: notice.body });
  return true;
}

async function checkArrival(expectation: DatasetExpectation, now: Date): Promise<number> {
  const { arrival, dataset } = expectation;
  if (!arrival) return 0;
  const newest = (await Promise.all(STATUSES.map((status) => itemsOf(dataset, status, 1)))).flat();
  const last = newest
    .map((item) => new Date(item.receivedAt))
    .sort((a, b) => b.getTime() - a.getTime())[0];
  const slot = missedSlot(arrival, now, last);
  if (!slot) return 0;
  const notice = lateArrivalNotice(dataset, slot, arrival.graceMinutes, last, now);
  return (await notifyOnce(dataset, `LateArrival#${slot.toISOString()}`, notice)) ? 1 : 0;
}

const rowsOf = (item: LedgerItem): number | undefined => {
  const rows = (item.summary?.validation as { rows?: unknown } | undefined)?.rows;
  return typeof rows === 'number' ? rows : undefined;
};

async function checkRows(dataset: string, rows: RowsExpectation, now: Date): Promise<number> {
  // Validated CSVs, rejected ones included: a rejected file's row count is still its size.
  const items = (
    await Promise.all(
      (['SUCCEEDED', 'QUARANTINED'] as const).map((status) =>
        itemsOf(dataset, status, RECENT_FILES + rows.trailing),
      ),
    )
  )
    .flat()
    .filter((item) => rowsOf(item) !== undefined)
    .sort((a, b) => timeOf(b).localeCompare(timeOf(a)));
  let published = 0;
  for (const [index, item] of items.slice(0, RECENT_FILES).entries()) {
    if (now.getTime() - Date.parse(timeOf(item)) > RECENT_MS) break;
    const before = items.slice(index + 1).map((older) => rowsOf(older) as number);
    const reason = rowDrift(rows, rowsOf(item) as number, before);
    if (!reason) continue;
    const id = `RowCountDrift#${item.key}#${item.versionTag}#${item.attempt ?? 0}`;
    if (await notifyOnce(dataset, id, rowDriftNotice(item, reason, now))) published++;
  }
  return published;
}

/**
 * Checks every dataset's declared expectations (`DATASET_EXPECTATIONS`) against the ledger: a
 * feed due and not arrived, and a CSV whose row count is off. Each miss publishes one notice.
 * EventBridge Scheduler runs it every 15 minutes with `time`, the scheduled time; `sluice up`
 * runs it offline. Safe to run twice: the ledger remembers what it already told.
 */
export const handler = async (
  event: { readonly time?: string },
  context: Context,
): Promise<{ readonly notices: number }> => {
  logger.addContext(context);
  const now = event.time ? new Date(event.time) : new Date();
  const expectations = JSON.parse(expectationsJson()) as DatasetExpectation[];
  try {
    let notices = 0;
    for (const expectation of expectations) {
      notices += await checkArrival(expectation, now);
      if (expectation.rows) notices += await checkRows(expectation.dataset, expectation.rows, now);
    }
    return { notices };
  } catch (error) {
    const classified = classifyError(error);
    logger.error('could not check the expectations', classified as Error);
    throw classified;
  }
};
