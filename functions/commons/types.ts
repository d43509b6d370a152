/** What the router decided a file is, from its extension. The engines check the bytes. */
export type FileKind = 'image' | 'csv' | 'unknown';

/** Final and in-flight statuses of a file version in the run ledger. A public contract. */
export type FileStatus =
  | 'PROCESSING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'QUARANTINED'
  | 'SKIPPED_DUPLICATE';

/** The uploaded object one execution works on. Pointers and small facts only, never contents. */
export interface FileRef {
  readonly bucket: string;
  readonly key: string;
  /** The object's ETag without quotes: events and listings agree on it (see versionTagOf). */
  readonly versionTag: string;
  readonly size: number;
  /** The folder under `incoming/`. */
  readonly dataset: string;
  /** The file name without its folder and extension, used to name outputs. */
  readonly name: string;
  readonly kind: FileKind;
  /** When S3 reported the upload (ISO 8601). */
  readonly receivedAt: string;
}

/** Input of the ProcessFile state machine, built by the start function. */
export interface ProcessFileInput {
  readonly file: FileRef;
  /** 1 for the upload's own execution; a replay of the same version is 2, 3, … */
  readonly attempt: number;
  /** The SQS message whose event started it; absent for a replay or a batch. */
  readonly messageId?: string;
  /** The ProcessBatch run that started it, if one did. */
  readonly batchId?: string;
}

/** `{ Error, Cause }` as Step Functions' Catch puts it at `ResultPath`. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** The error recorded against a file: a public contract of the CLI's JSON output. */
export interface RecordedError {
  readonly name: string;
  readonly message: string;
}

/** One record per processed file, streamed to Kinesis and landed by Firehose. */
export interface AggregateRecord {
  /**
   * The same for every copy of one attempt's record: Kinesis and Firehose deliver at least once,
   * and a task that runs twice publishes twice, so consumers drop repeats by this id.
   */
  readonly recordId: string;
  readonly dataset: string;
  readonly kind: FileKind;
  readonly outcome: FileStatus;
  readonly key: string;
  readonly bytes: number;
  readonly rows: number | null;
  readonly invalidRows: number | null;
  readonly variants: number | null;
  readonly durationMs: number;
  readonly time: string;
  readonly errorName: string | null;
}
