import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { BatchMode } from './batch.ts';
import { attemptExecutionName, fileRef, versionTagOf } from './file-ref.ts';
import type { LedgerItem } from './outcome.ts';
import type { FileRef, FileStatus } from './types.ts';

/** One object of a listing, as a Distributed Map's S3 ItemReader hands it over. */
export interface ListedObject {
  readonly Key: string;
  readonly Etag: string;
  readonly Size: number;
  /** Seconds since the epoch. */
  readonly LastModified: number;
}

/** What a batch does with one listed object: a public contract of `sluice batch --dry-run`. */
export interface BatchItemPlan {
  readonly action: 'process' | 'skip';
  readonly reason: string;
  readonly key: string;
  readonly versionTag: string;
  /** The attempt a `process` starts, or the latest attempt a `skip` leaves alone (0: none). */
  readonly attempt: number;
  readonly batchId: string;
  /** Present when `action` is `process`: ProcessFile's input and the attempt's name. */
  readonly file?: FileRef;
  readonly executionName?: string;
}

const FINAL: ReadonlySet<FileStatus> = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED']);

/** The attempts at one version, oldest first; duplicate items are not attempts. */
function attemptsOf(items: readonly LedgerItem[], versionTag: string): LedgerItem[] {
  return items
    .filter((item) => item.versionTag === versionTag && item.status !== 'SKIPPED_DUPLICATE')
    .sort((a, b) => (a.attempt ?? 1) - (b.attempt ?? 1));
}

/**
 * Decides one listed object. `new` processes a version with no final status yet (a first
 * attempt if none ran, the next if the last one closed without a final status) and skips the
 * rest; `reprocess` starts the next attempt of every version. Neither starts a second attempt
 * beside one that is still running.
 *
 * @param items the ledger's items for the object's key
 * @param isRunning whether an attempt's execution is still running
 */
export async function planBatchItem(
  object: ListedObject,
  context: { readonly bucket: string; readonly batchId: string; readonly mode: BatchMode },
  items: readonly LedgerItem[],
  isRunning: (executionArn: string) => Promise<boolean>,
): Promise<BatchItemPlan> {
  const versionTag = versionTagOf(object.Etag);
  const base = { key: object.Key, versionTag, batchId: context.batchId };
  const file = fileRef({
    bucket: context.bucket,
    key: object.Key,
    versionTag,
    size: object.Size,
    receivedAt: new Date(object.LastModified * 1000).toISOString(),
  });
  if (!file) return { ...base, action: 'skip', reason: 'a folder marker, not a file', attempt: 0 };
  const attempts = attemptsOf(items, versionTag);
  const last = attempts.at(-1);
  const lastAttempt = last?.attempt ?? (last ? 1 : 0);
  const process = (attempt: number, reason: string): BatchItemPlan => ({
    ...base,
    action: 'process',
    reason,
    attempt,
    file,
    executionName: attemptExecutionName(file, attempt),
  });
  if (!last) return process(1, 'no attempt yet');
  if (last.status === 'PROCESSING' && (await isRunning(last.executionId))) {
    return {
      ...base,
      action: 'skip',
      reason: `attempt ${lastAttempt} is running`,
      attempt: lastAttempt,
    };
  }
  if (context.mode === 'reprocess') {
    return process(lastAttempt + 1, `reprocess: attempt ${lastAttempt} was ${last.status}`);
  }
  if (FINAL.has(last.status)) {
    return {
      ...base,
      action: 'skip',
      reason: `already ${last.status} (attempt ${lastAttempt})`,
      attempt: lastAttempt,
    };
  }
  return process(lastAttempt + 1, `attempt ${lastAttempt} closed without a final status`);
}

/**
 * The `isRunning` of {@link planBatchItem} over Step Functions. An attempt claimed by an
 * execution that is gone is not running: nothing runs it.
 */
export function executionRunning(sfn: SFNClient): (executionArn: string) => Promise<boolean> {
  return async (executionArn) => {
    try {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return execution.status === 'RUNNING';
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return false;
      throw error;
    }
  };
}
