import type { BatchSummary } from './batch.ts';
import type { LedgerItem } from './outcome.ts';

/** What the notice topic carries, beside the alarms: a public contract for subscribers. */
export type NoticeKind =
  | 'FileFailed'
  | 'FileQuarantined'
  | 'BatchOverTolerance'
  | 'LateArrival'
  | 'RowCountDrift';

export const NOTICE_KINDS: readonly NoticeKind[] = [
  'FileFailed',
  'FileQuarantined',
  'BatchOverTolerance',
  'LateArrival',
  'RowCountDrift',
];

/** One message on the topic: `subject` for e-mail, `body` (JSON) for everything else. */
export interface Notice {
  readonly kind: NoticeKind;
  /** At most 100 characters, as SNS requires. */
  readonly subject: string;
  readonly body: NoticeBody;
}

export interface NoticeBody {
  readonly kind: NoticeKind;
  readonly dataset: string | null;
  readonly key: string | null;
  readonly status: string;
  readonly error: { readonly name: string; readonly message: string } | null;
  /** Null for a feed that did not arrive. */
  readonly executionArn: string | null;
  /** The execution in the Step Functions console. */
  readonly link: string | null;
  /** The ops command that shows it, in either world. */
  readonly show: string;
  readonly at: string;
}

const SUBJECT_LIMIT = 100;

const subjectOf = (text: string): string =>
  text.length <= SUBJECT_LIMIT ? text : `${text.slice(0, SUBJECT_LIMIT - 1)}…`;

/** The console page of an execution (or of a state machine's Map Run), from its ARN's region. */
export function executionLink(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The notice of a file that ended FAILED or QUARANTINED; none for any other status. */
export function fileNotice(item: LedgerItem): Notice | undefined {
  if (item.status !== 'FAILED' && item.status !== 'QUARANTINED') return undefined;
  const kind: NoticeKind = item.status === 'FAILED' ? 'FileFailed' : 'FileQuarantined';
  const reason = item.error?.name ?? 'no error recorded';
  return {
    kind,
    subject: subjectOf(`sluice: ${item.status} ${item.key} (${reason})`),
    body: {
      kind,
      dataset: item.dataset,
      key: item.key,
      status: item.status,
      error: item.error,
      executionArn: item.executionId,
      link: executionLink(item.executionId),
      show: `sluice show ${item.key}`,
      at: item.finishedAt ?? item.statusAt.replace(/^[A-Z_]+#/, ''),
    },
  };
}

/** The notice of a batch past its failure tolerance; none for one within it. */
export function batchNotice(summary: BatchSummary): Notice | undefined {
  if (!summary.exceeded) return undefined;
  return {
    kind: 'BatchOverTolerance',
    subject: subjectOf(
      `sluice: batch ${summary.batchId} over its failure tolerance (${summary.failurePercentage}% failed)`,
    ),
    body: {
      kind: 'BatchOverTolerance',
      dataset: null,
      key: summary.prefix,
      status: `${summary.counts.FAILED ?? 0} of ${summary.files} files FAILED`,
      error: summary.error ?? null,
      executionArn: summary.executionArn,
      link: executionLink(summary.executionArn),
      show: `sluice executions --status FAILED`,
      at: summary.stopDate,
    },
  };
}

/** The notice of a dataset whose files were due at `slot` and had not come by `now`. */
export function lateArrivalNotice(
  dataset: string,
  slot: Date,
  graceMinutes: number,
  lastReceivedAt: Date | undefined,
  now: Date,
): Notice {
  const last = lastReceivedAt
    ? `the last came at ${lastReceivedAt.toISOString()}`
    : 'none has come yet';
  return {
    kind: 'LateArrival',
    subject: subjectOf(`sluice: ${dataset} is late: due ${slot.toISOString()}`),
    body: {
      kind: 'LateArrival',
      dataset,
      key: null,
      status: 'LATE',
      error: {
        name: 'LateArrival',
        message: `no file of ${dataset} since it was due at ${slot.toISOString()} (grace ${graceMinutes} min); ${last}`,
      },
      executionArn: null,
      link: null,
      show: `sluice executions --dataset ${dataset}`,
      at: now.toISOString(),
    },
  };
}

/** The notice of a CSV whose row count is off, for `reason`. */
export function rowDriftNotice(item: LedgerItem, reason: string, now: Date): Notice {
  return {
    kind: 'RowCountDrift',
    subject: subjectOf(`sluice: ${item.key}: ${reason.split(';')[0]}`),
    body: {
      kind: 'RowCountDrift',
      dataset: item.dataset,
      key: item.key,
      status: item.status,
      error: { name: 'RowCountDrift', message: reason },
      executionArn: item.executionId,
      link: executionLink(item.executionId),
      show: `sluice show ${item.key}`,
      at: now.toISOString(),
    },
  };
}
