import type { z } from 'zod';
import type { LedgerItem } from '#commons/outcome.ts';
import type { attemptView, datasetFilesPage, fileStatus } from './routes.ts';

export type FileStatusView = z.infer<typeof fileStatus>;
export type DatasetFilesPage = z.infer<typeof datasetFilesPage>;

const isDuplicate = (item: LedgerItem) => item.status === 'SKIPPED_DUPLICATE';

function attemptOf(item: LedgerItem): z.infer<typeof attemptView> {
  return {
    attempt: item.attempt ?? 1,
    status: item.status,
    executionId: item.executionId,
    startedAt: item.startedAt,
    finishedAt: item.finishedAt ?? null,
    durationMs: item.durationMs ?? null,
    outputs: [...item.outputs],
    error: item.error,
  };
}

/**
 * A file as a partner asks after it: its newest version, that version's latest attempt for the
 * status, outputs and error, and every attempt (replays and redrives) oldest first. Undefined
 * when the ledger has nothing of the key.
 */
export function fileStatusOf(items: readonly LedgerItem[]): FileStatusView | undefined {
  const newest = items.reduce<LedgerItem | undefined>(
    (latest, item) => (!latest || item.receivedAt > latest.receivedAt ? item : latest),
    undefined,
  );
  if (!newest) return undefined;
  const version = items.filter((item) => item.versionTag === newest.versionTag);
  const attempts = version
    .filter((item) => !isDuplicate(item))
    .map(attemptOf)
    .sort((a, b) => a.attempt - b.attempt || a.startedAt.localeCompare(b.startedAt));
  const latest = attempts.at(-1);
  return {
    key: newest.key,
    dataset: newest.dataset,
    kind: newest.kind,
    size: newest.size,
    versionTag: newest.versionTag,
    // Only duplicates of a version mean its first attempt is in another item not yet written.
    status: latest?.status ?? 'SKIPPED_DUPLICATE',
    outputs: latest?.outputs ?? [],
    error: latest?.error ?? null,
    receivedAt: newest.receivedAt,
    attempts,
    duplicates: version.filter(isDuplicate).length,
  };
}

/** One row of a dataset's page, from an item of the `byDatasetStatus` index. */
export function datasetFileOf(item: LedgerItem): DatasetFilesPage['items'][number] {
  return {
    key: item.key,
    versionTag: item.versionTag,
    attempt: item.attempt ?? null,
    kind: item.kind,
    size: item.size,
    status: item.status,
    statusAt: item.statusAt.slice(item.statusAt.indexOf('#') + 1),
    error: item.error,
    executionId: item.executionId,
  };
}

/** DynamoDB's LastEvaluatedKey as an opaque token, and back; a token that is not one is null. */
export const pageToken = {
  encode: (key: Record<string, unknown> | undefined): string | null =>
    key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null,
  decode(token: string): Record<string, unknown> | null {
    try {
      const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
      const isKey =
        typeof key === 'object' &&
        key !== null &&
        Object.values(key).every((value) => typeof value === 'string');
      return isKey ? (key as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  },
};
