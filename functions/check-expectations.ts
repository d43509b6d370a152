import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import {
  type CountedFile,
  type DatasetExpectation,
  missedSlot,
  type RowsExpectation,
  rowCountFindings,
} from '#commons/expectations.ts';
import { expectationsJson, tableName } from '#commons/helpers/config.ts';
import { classifyError } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { publishNotice } from '#commons/helpers/notices.ts';
import { lateArrivalNotice, type Notice, rowDriftNotice } from '#commons/notices.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { FileStatus } from '#commons/types.ts';

/** Every status a file version's item can have: a file that arrived has one of them. */
const STATUSES: readonly FileStatus[] = [
  'PROCESSING',
  'SUCCEEDED',
  'FAILED',
  'QUARANTINED',
  'SKIPPED_DUPLICATE',
];
/**
 * How far back each run judges row counts. Far more than the 15 minutes between runs: a run that
 * failed its retries (Scheduler drops it after an hour), or a function broken for hours, still
 * leaves its files to a later run. Reading a day's ledger items every run costs a few Query pages.
 */
const ROW_WINDOW_MS = 24 * 3600_000;
/** Items per ledger Query page: enough for a day of most feeds, few when only the trailing remain. */
const PAGE_SIZE = 100;

const ledger = new RunLedger(dynamodb, tableName());

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
  const pages = await Promise.all(
    STATUSES.map((status) => ledger.datasetPage(dataset, { status, limit: 1 })),
  );
  const last = pages
    .flatMap((page) => page.items)
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

type CountedItem = CountedFile & { readonly item: LedgerItem };

/**
 * A dataset's validated CSVs of one status, newest first: every one from `since` on, then the
 * `trailing` just before it, however many pages that takes. One read goes on past `since` for
 * the trailing files, so they need no second, bounded query; items without a row count (not a
 * CSV, or rejected before it was read) are passed over, since they cannot be a baseline.
 */
async function countedFiles(
  dataset: string,
  status: FileStatus,
  since: string,
  trailing: number,
): Promise<CountedItem[]> {
  const files: CountedItem[] = [];
  let earlier = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ledger.datasetPage(dataset, { status, limit: PAGE_SIZE, startKey });
    for (const item of page.items) {
      const rows = rowsOf(item);
      if (rows === undefined) continue;
      const at = timeOf(item);
      if (at < since && ++earlier > trailing) return files;
      files.push({ at, rows, item });
    }
    startKey = page.lastKey;
  } while (startKey);
  return files;
}

async function checkRows(dataset: string, rows: RowsExpectation, now: Date): Promise<number> {
  const since = new Date(now.getTime() - ROW_WINDOW_MS).toISOString();
  // Rejected CSVs count too: a rejected file's row count is still the feed's size.
  const files = await Promise.all(
    (['SUCCEEDED', 'QUARANTINED'] as const).map((status) =>
      countedFiles(dataset, status, since, rows.trailing),
    ),
  );
  let published = 0;
  for (const { file, reason } of rowCountFindings(rows, files.flat(), since)) {
    const { item } = file;
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
