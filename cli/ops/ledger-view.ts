import { DescribeExecutionCommand, type DescribeExecutionOutput } from '@aws-sdk/client-sfn';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LEDGER } from '#commons/constants.ts';
import { type LedgerItem, recordedError } from '#commons/outcome.ts';
import type { FileKind, RecordedError } from '#commons/types.ts';
import type { AttemptStatus } from './statuses.ts';
import type { OpsTarget } from './target.ts';
import { isoTime } from './time.ts';

/**
 * A ledger item as the ops commands read it. `attempt` (1 for the first processing, 2, 3, … for
 * replays) and `versionTag` are optional so that items written before them still read.
 */
export type LedgerRecord = LedgerItem & {
  readonly attempt?: number;
  readonly versionTag?: string;
};

/** Execution statuses that end an execution without success. */
const CLOSED_UNSUCCESSFUL = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

/** One version of one object: its attempts (oldest first) and the duplicate events it skipped. */
export interface FileVersion {
  readonly bucket: string;
  readonly key: string;
  readonly dataset: string;
  readonly kind: FileKind;
  readonly size: number;
  readonly versionTag: string;
  readonly attempts: readonly LedgerRecord[];
  readonly duplicates: readonly LedgerRecord[];
}

/** One attempt of a file version, as `sluice show` prints it. */
export interface AttemptView {
  readonly attempt: number;
  readonly status: AttemptStatus;
  readonly executionArn: string;
  readonly error: RecordedError | null;
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly durationMs: number | null;
  readonly outputs: readonly string[];
}

/** One row of `sluice executions`: a file version, as its latest attempt left it. */
export interface ExecutionRow {
  readonly key: string;
  readonly dataset: string;
  readonly kind: FileKind;
  readonly status: AttemptStatus;
  readonly executionArn: string;
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly error: RecordedError | null;
  readonly bucket: string;
  readonly versionTag: string;
  /** The latest attempt's number (1 unless replayed). */
  readonly attempt: number;
  readonly attempts: number;
  readonly duplicates: number;
  readonly size: number;
  readonly durationMs: number | null;
}

export const isDuplicate = (item: LedgerItem): boolean => item.status === 'SKIPPED_DUPLICATE';

/** The version an item belongs to; before `versionTag` was stored, it led the sort key. */
export function versionTagOf(item: LedgerRecord): string {
  return item.versionTag ?? item.sk.split('#')[0] ?? item.sk;
}

/** By attempt number when both items have one, else by start time. */
function byAttempt(a: LedgerRecord, b: LedgerRecord): number {
  if (a.attempt !== undefined && b.attempt !== undefined && a.attempt !== b.attempt) {
    return a.attempt - b.attempt;
  }
  return a.startedAt.localeCompare(b.startedAt);
}

/**
 * Groups ledger items into file versions, the latest attempt last within each. A version with
 * duplicates but no attempt item (its claim was lost) is left out: it has no status to show.
 */
export function groupVersions(items: readonly LedgerRecord[]): FileVersion[] {
  const groups = new Map<string, { attempts: LedgerRecord[]; duplicates: LedgerRecord[] }>();
  for (const item of items) {
    const id = `${item.pk}\0${versionTagOf(item)}`;
    let group = groups.get(id);
    if (!group) {
      group = { attempts: [], duplicates: [] };
      groups.set(id, group);
    }
    (isDuplicate(item) ? group.duplicates : group.attempts).push(item);
  }
  const versions: FileVersion[] = [];
  for (const { attempts, duplicates } of groups.values()) {
    const latest = attempts.sort(byAttempt).at(-1);
    if (!latest) continue;
    versions.push({
      bucket: latest.bucket,
      key: latest.key,
      dataset: latest.dataset,
      kind: latest.kind,
      size: latest.size,
      versionTag: versionTagOf(latest),
      attempts,
      duplicates: duplicates.sort((a, b) => a.startedAt.localeCompare(b.startedAt)),
    });
  }
  return versions;
}

/** The latest attempt's start, so versions can be ordered newest first. */
export const latestStart = (version: FileVersion): string =>
  version.attempts.at(-1)?.startedAt ?? '';

/** DescribeExecution, once per ARN, with `undefined` for an execution that does not exist. */
export class ExecutionLookup {
  private readonly cache = new Map<string, Promise<DescribeExecutionOutput | undefined>>();

  constructor(private readonly target: OpsTarget) {}

  describe(executionArn: string): Promise<DescribeExecutionOutput | undefined> {
    let found = this.cache.get(executionArn);
    if (!found) {
      found = this.target.sfn
        .send(new DescribeExecutionCommand({ executionArn }))
        .catch((error) => {
          const name = (error as Error).name;
          if (name === 'ExecutionDoesNotExist' || name === 'InvalidArn') return undefined;
          throw error;
        });
      this.cache.set(executionArn, found);
    }
    return found;
  }
}

/**
 * An attempt as it stands: its ledger item, except that a PROCESSING item whose execution has
 * closed without success (a crash, a stop, a timeout) shows that execution's status and error.
 */
export async function resolveAttempt(
  item: LedgerRecord,
  index: number,
  executions: ExecutionLookup,
): Promise<AttemptView> {
  const attempt = item.attempt ?? index + 1;
  const startDate = isoTime(item.startedAt);
  const outputs = item.outputs ?? [];
  if (item.status === 'PROCESSING') {
    const execution = await executions.describe(item.executionId);
    if (execution?.status && CLOSED_UNSUCCESSFUL.has(execution.status)) {
      const stopDate = isoTime(execution.stopDate);
      const started = Date.parse(item.startedAt);
      return {
        attempt,
        status: execution.status as AttemptStatus,
        executionArn: item.executionId,
        error: recordedError({
          Error: execution.error ?? `Execution${execution.status}`,
          Cause: execution.cause,
        }),
        startDate,
        stopDate,
        durationMs:
          stopDate && !Number.isNaN(started) ? Math.max(0, Date.parse(stopDate) - started) : null,
        outputs,
      };
    }
  }
  return {
    attempt,
    status: item.status as AttemptStatus,
    executionArn: item.executionId,
    error: item.error ?? null,
    startDate,
    stopDate: isoTime(item.finishedAt),
    durationMs: item.durationMs ?? null,
    outputs,
  };
}

/** Every attempt of a version, oldest first. */
export function resolveAttempts(
  version: FileVersion,
  executions: ExecutionLookup,
): Promise<AttemptView[]> {
  return Promise.all(version.attempts.map((item, i) => resolveAttempt(item, i, executions)));
}

/** The attributes a listing needs: everything but outputs and summaries, which can be large. */
const LISTED = [
  'pk',
  'sk',
  'bucket',
  'key',
  'dataset',
  'kind',
  'size',
  'status',
  'statusAt',
  'error',
  'executionId',
  'receivedAt',
  'startedAt',
  'finishedAt',
  'durationMs',
  'attempt',
  'versionTag',
];

/** A CSV's row counts, as the console's summaries need them, without the rest of the summary. */
export const ROW_COUNTS = ['summary.validation.rows', 'summary.validation.invalidRows'] as const;

/**
 * Reads ledger items: one dataset's through the `byDatasetStatus` index, or else the whole table.
 * Outputs and summaries are left out, but for the attribute paths in `extra` (`a.b.c`).
 */
export async function readLedger(
  target: OpsTarget,
  dataset?: string,
  extra: readonly string[] = [],
): Promise<LedgerRecord[]> {
  const names: Record<string, string> = {};
  const placeholder = (name: string) => {
    const found = Object.entries(names).find(([, value]) => value === name)?.[0];
    if (found) return found;
    const next = `#a${Object.keys(names).length}`;
    names[next] = name;
    return next;
  };
  const projection = [...LISTED, ...extra]
    .map((path) => path.split('.').map(placeholder).join('.'))
    .join(', ');
  const items: LedgerRecord[] = [];
  let start: Record<string, unknown> | undefined;
  // Pages of 1000 items rather than 1 MB: the same reads, with less garbage held at once.
  const Limit = 1000;
  do {
    const page = await target.dynamodb.send(
      dataset === undefined
        ? new ScanCommand({
            TableName: target.names.table,
            ProjectionExpression: projection,
            // File items only: a batch's item (BATCHES#…) has no version.
            FilterExpression: 'attribute_exists(#versionTag)',
            ExpressionAttributeNames: { ...names, '#versionTag': 'versionTag' },
            ExclusiveStartKey: start,
            Limit,
          })
        : new QueryCommand({
            TableName: target.names.table,
            IndexName: LEDGER.statusIndex,
            KeyConditionExpression: '#dataset = :dataset',
            ProjectionExpression: projection,
            ExpressionAttributeNames: { ...names, '#dataset': LEDGER.statusIndexPartitionKey },
            ExpressionAttributeValues: { ':dataset': dataset },
            ExclusiveStartKey: start,
            Limit,
          }),
    );
    for (const item of page.Items ?? []) {
      items.push({ outputs: [], summary: null, ...item } as unknown as LedgerRecord);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export interface ExecutionFilters {
  /** Keep versions whose status is one of these. */
  readonly statuses?: ReadonlySet<string>;
  readonly dataset?: string;
  /** Keep versions whose latest attempt stopped (or, still running, started) at or after this. */
  readonly since?: Date;
  readonly limit?: number;
}

/** Runs `fn` over `items`, `concurrency` at a time, keeping their order. */
async function mapLimited<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
    }),
  );
  return results;
}

/** A version's row: its latest attempt as it stands. */
export async function executionRowOf(
  version: FileVersion,
  executions: ExecutionLookup,
): Promise<ExecutionRow> {
  const latest = version.attempts.at(-1) as LedgerRecord;
  const attempt = await resolveAttempt(latest, version.attempts.length - 1, executions);
  return {
    key: version.key,
    dataset: version.dataset,
    kind: version.kind,
    status: attempt.status,
    executionArn: attempt.executionArn,
    startDate: attempt.startDate,
    stopDate: attempt.stopDate,
    error: attempt.error,
    bucket: version.bucket,
    versionTag: version.versionTag,
    attempt: attempt.attempt,
    attempts: version.attempts.length,
    duplicates: version.duplicates.length,
    size: version.size,
    durationMs: attempt.durationMs,
  };
}

/** The file versions of `sluice executions`, newest first. */
export async function listFileVersions(
  target: OpsTarget,
  filters: ExecutionFilters = {},
): Promise<ExecutionRow[]> {
  const versions = groupVersions(await readLedger(target, filters.dataset));
  const executions = new ExecutionLookup(target);
  const rows = await mapLimited(versions, 8, (version) => executionRowOf(version, executions));
  const since = filters.since?.getTime();
  return rows
    .filter((row) => !filters.statuses || filters.statuses.has(row.status))
    .filter(
      (row) => since === undefined || Date.parse(row.stopDate ?? row.startDate ?? '') >= since,
    )
    .sort(
      (a, b) =>
        (b.startDate ?? '').localeCompare(a.startDate ?? '') ||
        a.key.localeCompare(b.key) ||
        b.attempt - a.attempt,
    )
    .slice(0, filters.limit ?? Number.POSITIVE_INFINITY);
}
