import { INCOMING_PREFIX } from '#commons/constants.ts';
import { kindOf } from '#commons/file-ref.ts';
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

const FINAL: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'QUARANTINED',
  'SKIPPED_DUPLICATE',
]);

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
  return Promise.all(
    data.map(async (file): Promise<FileOutcome> => {
      const error = failed.get(file.key);
      if (!error) return outcomeOf(stack, file.key, since, startedAt);
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
 * The outcome of the version this run uploaded: its latest attempt. A version that an earlier
 * run had already finished shows as this run's SKIPPED_DUPLICATE event; one that an earlier run
 * left unfinished (stopped, or killed) shows the status its resumed execution reached now.
 */
async function outcomeOf(
  stack: LocalStack,
  key: string,
  since: number,
  startedAt: number,
): Promise<FileOutcome> {
  const history = await stack.ledger.history(stack.names.bucketName, key);
  const event = history.filter((item) => Date.parse(item.receivedAt) >= since).at(-1);
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
