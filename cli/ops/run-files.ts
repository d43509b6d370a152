import { INCOMING_PREFIX } from '#commons/constants.ts';
import { datasetOf, kindOf } from '#commons/file-ref.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import type { FileKind, FileStatus, RecordedError } from '#commons/types.ts';
import type { LocalStack, Progress } from '#local/stack/stack.ts';
import { versionTagOf } from './ledger-view.ts';
import { targetFromLocalStack } from './target.ts';
import { planUploads, uploadFiles } from './uploads.ts';

/** What happened to one file: the `sluice run --json` contract. */
export interface FileOutcome {
  readonly key: string;
  readonly kind: FileKind;
  /** Absent from the ledger only when the run itself broke. */
  readonly status: FileStatus | 'MISSING';
  readonly outputs: readonly string[];
  readonly error: RecordedError | null;
  readonly executionId: string | null;
  readonly durationMs: number | null;
}

export interface RunFilesOptions {
  readonly onUploaded?: (done: number, total: number) => void;
  readonly onProgress?: (progress: Progress) => void;
}

const FINAL: ReadonlySet<FileStatus> = new Set<FileStatus>([
  'SUCCEEDED',
  'FAILED',
  'QUARANTINED',
  'SKIPPED_DUPLICATE',
]);

/** Every status a ledger item can have: the status index's sort key starts with one. */
const STATUSES: readonly FileStatus[] = ['PROCESSING', ...FINAL];

/**
 * Uploads a directory as `sluice upload` does (`<dir>/schemas/*` to `schemas/`, everything else
 * to `incoming/<relative path>`), waits until the pipeline is idle, and reads each file's outcome
 * of this run from the ledger. A file whose upload failed has no outcome: it shows as MISSING.
 */
export async function runFiles(
  stack: LocalStack,
  dir: string,
  options: RunFilesOptions = {},
): Promise<FileOutcome[]> {
  stack.prewarmUploadPath();
  const plan = await planUploads(dir);
  const data = plan.filter((file) => file.key.startsWith(INCOMING_PREFIX));
  // S3 event times have whole seconds, so this run's events are those from this second on;
  // finish times have milliseconds.
  const startedAt = Date.now();
  const since = Math.floor(startedAt / 1000) * 1000;
  const uploads = await uploadFiles(targetFromLocalStack(stack), plan, (progress) =>
    options.onUploaded?.(progress.filesDone, progress.files),
  );
  const failed = new Map(
    uploads.flatMap((upload) => (upload.error ? [[upload.key, upload.error]] : [])),
  );
  await stack.waitForIdle(options.onProgress);
  const recent = await itemsSince(
    stack,
    data.map((file) => file.key),
    since,
  );
  return Promise.all(
    data.map(async (file): Promise<FileOutcome> => {
      const error = failed.get(file.key);
      if (!error) return outcomeOf(stack, file.key, since, startedAt, recent.get(file.key));
      return {
        key: file.key,
        kind: kindOf(file.key),
        status: 'MISSING',
        outputs: [],
        error: { name: 'UploadFailed', message: `${error.name}: ${error.message}` },
        executionId: null,
        durationMs: null,
      };
    }),
  );
}

/**
 * The ledger items of `keys` whose status time is `since` or later, by key, in the order
 * RunLedger.history gives. A Query per dataset and status, from the status index, instead of one
 * per file: on 1,000 files the per-file Queries took 1.6 s after the last execution closed. Only
 * when there are fewer such Queries than files.
 */
async function itemsSince(
  stack: LocalStack,
  keys: readonly string[],
  since: number,
): Promise<ReadonlyMap<string, LedgerItem[]>> {
  const bucket = stack.names.bucketName;
  const datasets = new Set(keys.flatMap((key) => datasetOf(key) ?? []));
  const byKey = new Map<string, LedgerItem[]>();
  if (datasets.size * STATUSES.length >= keys.length) return byKey;
  const wanted = new Set(keys);
  for (const dataset of datasets) {
    for (const status of STATUSES) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await stack.ledger.datasetPage(dataset, {
          status,
          since: new Date(since).toISOString(),
          limit: 1000,
          startKey,
        });
        for (const item of page.items) {
          if (item.bucket !== bucket || !wanted.has(item.key)) continue;
          const items = byKey.get(item.key) ?? [];
          items.push(item);
          byKey.set(item.key, items);
        }
        startKey = page.lastKey;
      } while (startKey);
    }
  }
  // As a Query returns them (by sort key), then by event time, as history() sorts.
  for (const items of byKey.values()) {
    items.sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
    items.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }
  return byKey;
}

/**
 * The outcome of the version this run uploaded: its latest attempt. A version that an earlier
 * run had already finished shows as this run's SKIPPED_DUPLICATE event; one that an earlier run
 * left unfinished (stopped, or killed) shows the status its resumed execution reached now.
 */
async function outcomeOf(
  stack: LocalStack,
  key: string,
  since: number,
  startedAt: number,
  recent: readonly LedgerItem[] = [],
): Promise<FileOutcome> {
  // This run's items are the whole story of a version this run claimed: every item of it was
  // written since. A duplicate's version is older, so its history is read whole.
  const received = (item: LedgerItem) => Date.parse(item.receivedAt) >= since;
  const claimed = recent.filter(received).at(-1);
  const history =
    claimed && claimed.status !== 'SKIPPED_DUPLICATE'
      ? recent
      : await stack.ledger.history(stack.names.bucketName, key);
  const event = history.filter(received).at(-1);
  const latest = history
    .filter((item) => event && versionTagOf(item) === versionTagOf(event))
    .filter((item) => item.status !== 'SKIPPED_DUPLICATE')
    .sort((a, b) => (a.attempt ?? 1) - (b.attempt ?? 1))
    .at(-1);
  const finishedEarlier =
    latest?.finishedAt !== undefined && Date.parse(latest.finishedAt) < startedAt;
  const shown = event?.status === 'SKIPPED_DUPLICATE' && finishedEarlier ? event : latest;
  if (!shown || !FINAL.has(shown.status)) {
    const execution = latest?.executionId ?? event?.executionId ?? null;
    return {
      key,
      kind: kindOf(key),
      status: 'MISSING',
      outputs: [],
      error: {
        name: 'NoOutcome',
        message: execution
          ? `The pipeline recorded no final status for this file: execution ${execution} did not finish; see \`sluice show ${key}\`, or \`sluice redrive\` it`
          : 'The pipeline recorded no final status for this file',
      },
      executionId: execution,
      durationMs: null,
    };
  }
  return {
    key,
    kind: shown.kind,
    status: shown.status,
    outputs: shown.outputs,
    error: shown.error ?? null,
    executionId: shown.executionId,
    durationMs: shown.durationMs ?? null,
  };
}
