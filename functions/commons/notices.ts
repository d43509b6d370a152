import type { BatchSummary } from './batch.ts';
import type { LedgerItem } from './outcome.ts';

/** What the notice topic carries, beside the alarms: a public contract for subscribers. */
export type NoticeKind = 'FileFailed' | 'FileQuarantined' | 'BatchOverTolerance';

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
  readonly executionArn: string;
  /** The execution in the Step Functions console. */
  readonly link: string;
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
