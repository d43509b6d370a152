// The robustness benches' shared parts (crash.ts, chaos.ts): one `sluice run` as a child process,
// and the audit of the data dir it leaves, file by file.
import { spawn } from 'node:child_process';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { LedgerItem } from '#commons/outcome.ts';
import type { AggregateRecord, FileStatus, RecordedError } from '#commons/types.ts';
import { LocalStack } from '#local/stack/stack.ts';

const FINAL = new Set<FileStatus>(['SUCCEEDED', 'QUARANTINED', 'FAILED']);

export interface RunOptions {
  /** SIGKILLs the run after this many milliseconds unless it finished first. */
  readonly killAfterMs?: number;
  /** A fault rules file, passed as `--faults`. */
  readonly faults?: string;
}

export interface RunResult {
  readonly code: number | null;
  readonly killed: boolean;
  /** Wall milliseconds of the whole process, start-up included. */
  readonly ms: number;
  /** The end of its stderr, to tell why a run broke. */
  readonly stderr: string;
}

/** One `sluice run <dir> --data-dir <dataDir> --json`, its stdout dropped. */
export function runSluice(dir: string, dataDir: string, options: RunOptions = {}) {
  const args = ['cli/sluice.js', 'run', dir, '--data-dir', dataDir, '--json'];
  if (options.faults !== undefined) args.push('--faults', options.faults);
  const started = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const { killAfterMs } = options;
  const timer =
    killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise<RunResult>((done) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, killed: signal === 'SIGKILL', ms: Date.now() - started, stderr });
    });
  });
}

/** What the data dir holds for one uploaded file. */
export interface FileAudit {
  /** The relative path under the files dir; its key is `incoming/<path>`. */
  readonly path: string;
  /** The final status of attempt 1; `LOST` when it has none. */
  readonly status: FileStatus | 'LOST';
  /** The error of that final item, if any. */
  readonly error: RecordedError | null;
  /** Final items of attempt 1: exactly one when nothing went wrong. */
  readonly finals: number;
  /** SKIPPED_DUPLICATE items: events for a version that already had an execution. */
  readonly skipped: number;
  /** Aggregate records landed for the file, copies included. */
  readonly records: number;
  /** Distinct recordIds among them: what a reader keeps after dropping repeats. */
  readonly recordIds: number;
}

export interface Audit {
  readonly files: readonly FileAudit[];
  readonly lost: number;
  /** Files with more than one final item for attempt 1. */
  readonly duplicated: number;
  readonly skippedDuplicates: number;
  readonly succeeded: number;
  /** Files per final status, e.g. `{ SUCCEEDED: 980, QUARANTINED: 20 }`. */
  readonly statuses: Readonly<Record<string, number>>;
  /** `<path>: <status> <error name>: <message>` for every file with a final status other than SUCCEEDED. */
  readonly others: readonly string[];
  /** Aggregate records landed under aggregates/, copies included. */
  readonly records: number;
  /** Distinct recordIds among them. */
  readonly recordIds: number;
  /** Distinct files among them. */
  readonly recordFiles: number;
  /** Uploaded files with no aggregate record. */
  readonly missing: number;
  /** Messages in the upload queue's dead-letter queue. */
  readonly deadLetters: number;
}

/** One line about a file's final item, as the benches print them. */
export const describe = (file: FileAudit): string =>
  `${file.path}: ${file.status}${file.error ? ` ${file.error.name}: ${file.error.message}` : ''}`;

async function landedRecords(stack: LocalStack): Promise<AggregateRecord[]> {
  const bucket = stack.names.bucketName;
  const records: AggregateRecord[] = [];
  let token: string | undefined;
  do {
    const page = await stack.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'aggregates/', ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const body = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      const text = (await body.Body?.transformToString()) ?? '';
      for (const line of text.split('\n')) if (line) records.push(JSON.parse(line));
    }
    token = page.NextContinuationToken;
  } while (token);
  return records;
}

function auditFile(path: string, items: readonly LedgerItem[], records: AggregateRecord[]) {
  const finals = items.filter((item) => item.attempt === 1 && FINAL.has(item.status));
  const last = finals.at(-1);
  return {
    path,
    status: last?.status ?? 'LOST',
    error: last?.error ?? null,
    finals: finals.length,
    skipped: items.filter((item) => item.status === 'SKIPPED_DUPLICATE').length,
    records: records.length,
    recordIds: new Set(records.map((record) => record.recordId)).size,
  } satisfies FileAudit;
}

/**
 * What a finished data dir holds for every uploaded file: its ledger items (final status, lost,
 * duplicated, skipped duplicates) and the aggregate records landed in S3, plus the DLQ's depth.
 */
export async function audit(dataDir: string, paths: readonly string[]): Promise<Audit> {
  const stack = await LocalStack.start({ dataDir });
  try {
    const bucket = stack.names.bucketName;
    const records = await landedRecords(stack);
    const perKey = new Map<string, AggregateRecord[]>();
    for (const record of records) {
      const list = perKey.get(record.key) ?? [];
      list.push(record);
      perKey.set(record.key, list);
    }
    const files: FileAudit[] = [];
    for (const path of paths) {
      const key = `incoming/${path}`;
      files.push(auditFile(path, await stack.ledger.history(bucket, key), perKey.get(key) ?? []));
    }
    const statuses: Record<string, number> = {};
    for (const file of files) statuses[file.status] = (statuses[file.status] ?? 0) + 1;
    const count = (test: (file: FileAudit) => boolean) => files.filter(test).length;
    return {
      files,
      lost: count((file) => file.finals === 0),
      duplicated: count((file) => file.finals > 1),
      skippedDuplicates: files.reduce((sum, file) => sum + file.skipped, 0),
      succeeded: count((file) => file.status === 'SUCCEEDED'),
      statuses,
      others: files.filter((file) => file.finals > 0 && file.status !== 'SUCCEEDED').map(describe),
      records: records.length,
      recordIds: new Set(records.map((record) => record.recordId)).size,
      recordFiles: perKey.size,
      missing: count((file) => file.records === 0),
      deadLetters: stack.queue.deadLetters.length,
    };
  } finally {
    await stack.close();
  }
}
