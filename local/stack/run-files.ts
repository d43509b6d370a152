import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { INCOMING_PREFIX, SCHEMAS_PREFIX } from '#commons/constants.ts';
import { kindOf } from '#commons/file-ref.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import type { FileKind, FileStatus, RecordedError } from '#commons/types.ts';
import type { LocalStack, Progress } from './stack.ts';

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
  readonly onUploaded?: (key: string, done: number, total: number) => void;
  readonly onProgress?: (progress: Progress) => void;
}

const FINAL: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'QUARANTINED',
  'SKIPPED_DUPLICATE',
]);
/** Folder of a run directory whose files configure datasets instead of being data. */
const SCHEMAS_DIR = 'schemas';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(entry.parentPath, entry.name);
    // A symlinked file is uploaded like any other; only directories are walked.
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile())) {
      files.push(relative(dir, path).split(sep).join('/'));
    }
  }
  return files.sort();
}

/**
 * Uploads a directory as a data team would: `<dir>/schemas/*` to `schemas/`, everything else to
 * `incoming/<relative path>`. Waits until the pipeline is idle and reads each file's outcome of
 * this run from the ledger.
 */
export async function runFiles(
  stack: LocalStack,
  dir: string,
  options: RunFilesOptions = {},
): Promise<FileOutcome[]> {
  const files = await listFiles(dir);
  const schemas = files.filter((file) => file.startsWith(`${SCHEMAS_DIR}/`));
  const data = files.filter((file) => !file.startsWith(`${SCHEMAS_DIR}/`));
  const put = async (file: string, key: string) => {
    const path = join(dir, file);
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucketName,
        Key: key,
        Body: createReadStream(path),
        ContentLength: (await stat(path)).size,
      }),
    );
  };
  for (const file of schemas)
    await put(file, `${SCHEMAS_PREFIX}${file.slice(SCHEMAS_DIR.length + 1)}`);

  // S3 event times have whole seconds, so this run's events are those from this second on;
  // finish times have milliseconds.
  const startedAt = Date.now();
  const since = Math.floor(startedAt / 1000) * 1000;
  const keys = data.map((file) => `${INCOMING_PREFIX}${file}`);
  let uploaded = 0;
  const queue = [...data];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        await put(file, `${INCOMING_PREFIX}${file}`);
        options.onUploaded?.(`${INCOMING_PREFIX}${file}`, ++uploaded, data.length);
      }
    }),
  );
  await stack.waitForIdle(options.onProgress);
  return Promise.all(keys.map((key) => outcomeOf(stack, key, since, startedAt)));
}

const versionOf = (item: LedgerItem): string => item.versionTag ?? item.sk.split('#')[0] ?? '';

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
    .filter((item) => event && versionOf(item) === versionOf(event))
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
