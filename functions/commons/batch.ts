import { INCOMING_PREFIX } from './constants.ts';
import { SluiceError } from './errors.ts';
import type { FileStatus, RecordedError } from './types.ts';

/** `new` processes the versions with no final status yet; `reprocess` every version again. */
export type BatchMode = 'new' | 'reprocess';

export const BATCH_MODES: readonly BatchMode[] = ['new', 'reprocess'];

/** Where batch summaries land in the bucket: `batches/<id>.json`. */
export const BATCHES_PREFIX = 'batches/';

/** The ResultWriter's Prefix in process-batch.asl.json: AWS adds `<map run id>/manifest.json`. */
export const BATCH_RESULTS_PREFIX = 'batches/results/';

/** Children that may run at once when neither the CLI nor the schedule says. */
export const DEFAULT_BATCH_CONCURRENCY = 10;

/** The ASL's ToleratedFailurePercentage: more failed children than this and the batch fails. */
export const TOLERATED_FAILURE_PERCENTAGE = 10;

/** Input of the ProcessBatch state machine; every field is present (the ASL reads them all). */
export interface ProcessBatchInput {
  readonly batchId: string;
  readonly prefix: string;
  readonly mode: BatchMode;
  /** The schedule that fired it, or null for `sluice batch`. */
  readonly schedule: string | null;
  readonly maxConcurrency: number;
}

/** Statuses a batch counts: a file's final status, or FAILED for a child that failed. */
export type BatchCounts = Partial<Record<FileStatus, number>>;

/** The summary `sluice batch -o json` prints and `batches/<id>.json` holds. A public contract. */
export interface BatchSummary {
  readonly batchId: string;
  readonly prefix: string;
  readonly mode: BatchMode;
  readonly schedule: string | null;
  readonly files: number;
  readonly counts: BatchCounts;
  /** Files whose child failed to reach a final status, as a share of `files` (0 to 100). */
  readonly failurePercentage: number;
  readonly exceeded: boolean;
  readonly startDate: string;
  readonly stopDate: string;
  readonly summaryKey: string;
  readonly executionArn: string;
  /** Why the Map stopped, when it exceeded its tolerated failures. */
  readonly error?: RecordedError;
}

/** Named errors of batch input: the CLI turns them into exit 2. */
export class InvalidBatchPrefix extends SluiceError {
  override readonly name = 'InvalidBatchPrefix';
}

/** @throws InvalidBatchPrefix for a prefix outside `incoming/` */
export function checkBatchPrefix(prefix: string): string {
  if (!prefix.startsWith(INCOMING_PREFIX)) {
    throw new InvalidBatchPrefix(
      `prefix '${prefix}' is outside ${INCOMING_PREFIX}: a batch reprocesses uploads, e.g. ${INCOMING_PREFIX}orders/`,
    );
  }
  return prefix;
}

/** A manual batch's id: `batch-<UTC time to the millisecond>`. */
export const manualBatchId = (now: Date) => `batch-${now.toISOString()}`;

/** A scheduled batch's id is its schedule and scheduled time, so one slot is one batch. */
export const scheduledBatchId = (schedule: string, scheduledTime: Date) =>
  `${schedule}-${scheduledTime.toISOString().slice(0, 19)}Z`;

/**
 * The ProcessBatch execution name of a batch id. Execution names allow no `:`; a scheduled
 * batch on AWS gets Scheduler's own name, and carries its id in the input.
 */
export const batchExecutionName = (batchId: string) => batchId.replace(/[^\w.-]/g, '');

export const summaryKeyOf = (batchId: string) => `${BATCHES_PREFIX}${batchId}.json`;

/**
 * The ledger item of a batch. Its partition is the schedule's (or `manual`), sorted by start,
 * so "the last run of schedule X" is one query; it has no `dataset` or `statusAt`, so it never
 * shows in the files index, and no `versionTag`, which file listings require.
 */
export const batchLedgerKey = (schedule: string | null) => `BATCHES#${schedule ?? 'manual'}`;
export const batchLedgerSortKey = (startDate: string, batchId: string) => `${startDate}#${batchId}`;

/** A child's entry in a Distributed Map result file: what the counts need of it. */
export interface MapResultEntry {
  readonly Status: string;
  /** The child's output as JSON text: `{ key, versionTag, attempt, status, reason }`. */
  readonly Output?: string;
}

/**
 * Counts a batch's children by the status each file version ended in. A child that did not
 * succeed (it failed, timed out or was aborted) left its file without a final status: FAILED.
 */
export function countResults(entries: readonly MapResultEntry[]): {
  readonly counts: BatchCounts;
  readonly failed: number;
} {
  const counts: Record<string, number> = {};
  let failed = 0;
  for (const entry of entries) {
    const status =
      entry.Status === 'SUCCEEDED'
        ? ((JSON.parse(entry.Output ?? '{}') as { status?: string }).status ?? 'FAILED')
        : 'FAILED';
    if (entry.Status !== 'SUCCEEDED') failed += 1;
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return { counts, failed };
}
