import { INCOMING_PREFIX, QUARANTINE_PREFIX } from './constants.ts';
import type { AggregateRecord, CaughtError, FileRef, FileStatus, RecordedError } from './types.ts';

/** What a group of the image Map returns. */
export interface ImageGroupResult {
  readonly group: string;
  readonly source: {
    readonly width: number;
    readonly height: number;
    readonly format: string;
    readonly orientation: number | null;
    readonly detectedType: string;
    readonly extensionMismatch: boolean;
  };
  readonly variants: readonly {
    readonly key: string;
    readonly width: number;
    readonly height: number;
    readonly format: string;
    readonly bytes: number;
  }[];
}

/** What the CSV branch returns: the validation summary and the profile, both small. */
export interface CsvResult {
  readonly validation: {
    readonly accepted: boolean;
    readonly rows: number;
    readonly invalidRows: number;
    readonly errors: number;
    readonly bytes: number;
    readonly fields: number;
    readonly reportKey: string;
    readonly outputs: readonly string[];
  };
  readonly profile: unknown;
}

/** The ProcessFile state as the record tasks receive it; later stages are absent on early failure. */
export interface ProcessFileState {
  readonly file: FileRef;
  readonly attempt: number;
  readonly executionId: string;
  readonly startedAt: string;
  readonly image?: readonly ImageGroupResult[];
  readonly csv?: CsvResult;
  readonly error?: CaughtError;
  readonly quarantine?: { readonly key: string };
  readonly quarantineError?: CaughtError;
}

/** The run-ledger item for one file version: a public contract of the CLI and the console. */
export interface LedgerItem {
  readonly pk: string;
  readonly sk: string;
  readonly bucket: string;
  readonly key: string;
  readonly versionTag: string;
  /** Which processing of the version this is (1, 2, …); absent on duplicate events. */
  readonly attempt?: number;
  readonly dataset: string;
  readonly kind: FileRef['kind'];
  readonly size: number;
  readonly status: FileStatus;
  readonly statusAt: string;
  readonly outputs: readonly string[];
  readonly summary: Record<string, unknown> | null;
  readonly error: RecordedError | null;
  readonly executionId: string;
  readonly receivedAt: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
}

export function ledgerKey(file: Pick<FileRef, 'bucket' | 'key'>): string {
  return `${file.bucket}/${file.key}`;
}

/** The sort key of one attempt at a version; the ASL's Claim writes the same. */
export function attemptSortKey(versionTag: string, attempt: number): string {
  return `${versionTag}#${attempt}`;
}

/** Where a failed upload's copy goes: the same relative path under `quarantine/`. */
export function quarantineKey(key: string): string {
  const relative = key.startsWith(INCOMING_PREFIX) ? key.slice(INCOMING_PREFIX.length) : key;
  return `${QUARANTINE_PREFIX}${relative}`;
}

/**
 * Lambda errors reach Step Functions with a JSON Cause (`errorMessage`, `trace`); states' own
 * errors carry plain text. The ledger keeps the human message either way.
 */
export function recordedError(caught: CaughtError): RecordedError {
  const cause = caught.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') {
      return { name: caught.Error, message: parsed.errorMessage };
    }
  } catch {
    // Not JSON: the cause is the message.
  }
  return { name: caught.Error, message: cause || caught.Error };
}

function outputsOf(state: ProcessFileState): string[] {
  const outputs = [
    ...(state.image ?? []).flatMap((group) => group.variants.map((variant) => variant.key)),
    ...(state.csv?.validation.outputs ?? []),
  ];
  if (state.quarantine) outputs.push(state.quarantine.key);
  return outputs;
}

function summaryOf(state: ProcessFileState): Record<string, unknown> | null {
  if (state.image) {
    return {
      source: state.image[0]?.source ?? null,
      variants: state.image.flatMap((group) =>
        group.variants.map(({ key, width, height, format, bytes }) => ({
          key,
          width,
          height,
          format,
          bytes,
        })),
      ),
    };
  }
  if (state.csv) return { validation: state.csv.validation, profile: state.csv.profile };
  return null;
}

/**
 * The final ledger item and aggregate record of an execution. A failure counts as QUARANTINED
 * once its copy is safely in `quarantine/`, and as FAILED when even that copy failed.
 */
export function finalOutcome(
  state: ProcessFileState,
  now: Date,
): { readonly item: LedgerItem; readonly aggregate: AggregateRecord } {
  const failed = state.error !== undefined;
  const status: FileStatus = !failed ? 'SUCCEEDED' : state.quarantine ? 'QUARANTINED' : 'FAILED';
  const error = state.error ? recordedError(state.error) : null;
  const finishedAt = now.toISOString();
  const durationMs = Math.max(0, now.getTime() - Date.parse(state.startedAt));
  const { file } = state;
  const item: LedgerItem = {
    pk: ledgerKey(file),
    sk: attemptSortKey(file.versionTag, state.attempt),
    bucket: file.bucket,
    key: file.key,
    versionTag: file.versionTag,
    attempt: state.attempt,
    dataset: file.dataset,
    kind: file.kind,
    size: file.size,
    status,
    statusAt: `${status}#${finishedAt}`,
    outputs: outputsOf(state),
    summary: summaryOf(state),
    error,
    executionId: state.executionId,
    receivedAt: file.receivedAt,
    startedAt: state.startedAt,
    finishedAt,
    durationMs,
  };
  const validation = state.csv?.validation;
  const variants = state.image?.reduce((count, group) => count + group.variants.length, 0);
  const aggregate: AggregateRecord = {
    recordId: state.executionId.split(':').pop() ?? state.executionId,
    dataset: file.dataset,
    kind: file.kind,
    outcome: status,
    key: file.key,
    bytes: file.size,
    rows: validation?.rows ?? null,
    invalidRows: validation?.invalidRows ?? null,
    variants: variants ?? null,
    durationMs,
    time: finishedAt,
    errorName: error?.name ?? null,
  };
  return { item, aggregate };
}
