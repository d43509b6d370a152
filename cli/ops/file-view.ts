import type { DescribeExecutionOutput } from '@aws-sdk/client-sfn';
import { INCOMING_PREFIX } from '#commons/constants.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { FileKind, RecordedError } from '#commons/types.ts';
import { UnknownExecution, UnknownFile } from './errors.ts';
import {
  executionHistory,
  fileOfInput,
  type StateRun,
  stateRuns,
  topLevelStates,
} from './execution-history.ts';
import { executionLogs, type LogLine } from './function-logs.ts';
import {
  type AttemptView,
  ExecutionLookup,
  type FileVersion,
  groupVersions,
  type LedgerRecord,
  latestStart,
  resolveAttempt,
  resolveAttempts,
} from './ledger-view.ts';
import type { AttemptStatus } from './statuses.ts';
import type { OpsTarget } from './target.ts';

/** Everything `sluice show` knows about one file: the `sluice show -o json` contract. */
export interface FileView {
  readonly key: string | null;
  readonly bucket: string;
  readonly dataset: string | null;
  readonly kind: FileKind | null;
  readonly size: number | null;
  readonly versionTag: string | null;
  /** The file version's status: its latest attempt's (see `sluice executions`). */
  readonly status: AttemptStatus | string;
  readonly error: RecordedError | null;
  /** The execution whose states and logs follow: the one asked for, else the latest attempt's. */
  readonly executionArn: string | null;
  readonly executionStatus: string | null;
  /** Every attempt of this version, oldest first. */
  readonly attempts: readonly AttemptView[];
  /** Duplicate events of this version that were skipped. */
  readonly duplicates: number;
  /** Every version of the key, newest first (a re-upload with new content is a new version). */
  readonly versions: readonly {
    readonly versionTag: string;
    readonly status: AttemptStatus;
    readonly startDate: string | null;
    readonly executionArn: string;
  }[];
  readonly states: readonly StateRun[];
  /** The ledger's outputs of the shown attempt: variants, reports, clean rows, the quarantined copy. */
  readonly outputs: readonly string[];
  readonly summary: Record<string, unknown> | null;
  readonly logs: readonly LogLine[];
  /** Why `logs` is empty when it cannot be otherwise (a deployed stack); null locally. */
  readonly logsNote: string | null;
}

/** A `sluice show` argument: an execution ARN, `s3://bucket/key`, or a key of the stack's bucket. */
export async function showFile(target: OpsTarget, ref: string): Promise<FileView> {
  const executions = new ExecutionLookup(target);
  const ledger = new RunLedger(target.dynamodb, target.names.table);
  let bucket = target.names.bucket;
  let key: string | undefined;
  let executionArn: string | undefined;
  let inputVersionTag: string | undefined;
  let execution: DescribeExecutionOutput | undefined;
  if (ref.startsWith('arn:')) {
    executionArn = ref;
    execution = await executions.describe(ref);
    if (!execution) throw new UnknownExecution(`no execution ${ref} in ${target.description}`);
    const file = fileOfInput(execution.input);
    bucket = file?.bucket ?? bucket;
    key = file?.key;
    inputVersionTag = file?.versionTag;
  } else if (ref.startsWith('s3://')) {
    const [, name = '', path = ''] = /^s3:\/\/([^/]*)\/?(.*)$/.exec(ref) ?? [];
    bucket = name;
    key = path;
  } else {
    key = ref;
  }

  let items: LedgerRecord[] = key === undefined ? [] : await ledger.history(bucket, key);
  if (
    items.length === 0 &&
    key !== undefined &&
    !executionArn &&
    !key.startsWith(INCOMING_PREFIX)
  ) {
    const incoming = await ledger.history(bucket, `${INCOMING_PREFIX}${key}`);
    if (incoming.length > 0) {
      key = `${INCOMING_PREFIX}${key}`;
      items = incoming;
    }
  }
  if (items.length === 0 && !executionArn) {
    throw new UnknownFile(
      `no file ${key} in the ledger of ${target.description} (keys look like incoming/<dataset>/<file>)`,
    );
  }

  const versions = groupVersions(items).sort((a, b) =>
    latestStart(b).localeCompare(latestStart(a)),
  );
  const version: FileVersion | undefined = executionArn
    ? (versions.find((v) =>
        [...v.attempts, ...v.duplicates].some((item) => item.executionId === executionArn),
      ) ?? versions.find((v) => v.versionTag === inputVersionTag))
    : versions[0];
  const attempts = version ? await resolveAttempts(version, executions) : [];
  const latest = attempts.at(-1);
  const shownIndex = version?.attempts.findIndex((item) => item.executionId === executionArn) ?? -1;
  const shownItem = version?.attempts[shownIndex >= 0 ? shownIndex : version.attempts.length - 1];
  executionArn ??= latest?.executionArn;
  execution ??= executionArn ? await executions.describe(executionArn) : undefined;

  const states =
    executionArn && execution
      ? stateRuns(
          await executionHistory(target, executionArn),
          execution,
          await topLevelStates(target, execution.stateMachineArn),
        )
      : [];
  const local = target.kind === 'local' && target.logDir !== undefined;
  const logs =
    local && executionArn ? await executionLogs(target.logDir as string, executionArn) : [];

  const versionRows = await Promise.all(
    versions.map(async (v) => {
      const last = await resolveAttempt(
        v.attempts.at(-1) as LedgerRecord,
        v.attempts.length - 1,
        executions,
      );
      return {
        versionTag: v.versionTag,
        status: last.status,
        startDate: last.startDate,
        executionArn: last.executionArn,
      };
    }),
  );

  return {
    key: key ?? null,
    bucket,
    dataset: version?.dataset ?? null,
    kind: version?.kind ?? null,
    size: version?.size ?? null,
    versionTag: version?.versionTag ?? inputVersionTag ?? null,
    status: latest?.status ?? execution?.status ?? 'UNKNOWN',
    error: latest?.error ?? null,
    executionArn: executionArn ?? null,
    executionStatus: execution?.status ?? null,
    attempts,
    duplicates: version?.duplicates.length ?? 0,
    versions: versionRows,
    states,
    outputs: shownItem?.outputs ?? [],
    summary: shownItem?.summary ?? null,
    logs,
    logsNote: local
      ? null
      : target.kind === 'aws'
        ? 'logs of a deployed stack are in CloudWatch Logs (/aws/lambda/<function>); sluice show does not read them yet'
        : 'this local stack reported no log dir',
  };
}
