import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { attemptExecutionName, fileRef } from '#commons/file-ref.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { FileRef, ProcessFileInput, RecordedError } from '#commons/types.ts';
import { UnknownFile } from './errors.ts';
import {
  ExecutionLookup,
  groupVersions,
  latestStart,
  readLedger,
  resolveAttempts,
} from './ledger-view.ts';
import type { OpsTarget } from './target.ts';
import { waitUntilClosed } from './wait.ts';

/** One line of `sluice replay --dry-run`: a contract, like the result it becomes. */
export interface ReplayPlanItem {
  readonly key: string;
  /** The latest attempt's execution. */
  readonly executionArn: string;
  readonly lastError: RecordedError | null;
  /** `replay as attempt N`, or `skip: <why>`. */
  readonly action: string;
}

export interface ReplayResult extends ReplayPlanItem {
  readonly result: {
    readonly attempt: number;
    readonly executionArn: string;
    /** The new attempt's ledger status once its execution closed, or the execution's status. */
    readonly status: string;
    readonly error: RecordedError | null;
  } | null;
}

interface Planned extends ReplayPlanItem {
  readonly replay?: { readonly file: FileRef; readonly attempt: number };
}

const unquote = (etag: string | undefined) => etag?.replace(/"/g, '');

/** Whether the bucket still serves this version under the key: a replay reads the key. */
async function stillCurrent(target: OpsTarget, file: FileRef): Promise<string | undefined> {
  try {
    const head = await target.s3.send(
      new HeadObjectCommand({ Bucket: file.bucket, Key: file.key }),
    );
    const current =
      head.VersionId && head.VersionId !== 'null' ? head.VersionId : unquote(head.ETag);
    return current === file.versionTag
      ? undefined
      : 'skip: the key holds a newer upload now, which has its own execution';
  } catch (error) {
    if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') {
      return 'skip: the original is no longer in the bucket';
    }
    throw error;
  }
}

/**
 * What `sluice replay <key-or-prefix>` would do: the newest version of each matching key gets
 * a new attempt, unless its latest attempt still runs or the bucket no longer holds it.
 * @throws UnknownFile when the ledger has no file at the key or under it.
 */
export async function planReplay(
  target: OpsTarget,
  keyOrPrefix: string,
  statuses?: ReadonlySet<string>,
): Promise<Planned[]> {
  const all = groupVersions(await readLedger(target));
  const exact = all.filter((version) => version.key === keyOrPrefix);
  const matching = exact.length > 0 ? exact : all.filter((v) => v.key.startsWith(keyOrPrefix));
  if (matching.length === 0) {
    throw new UnknownFile(`no file in the ledger at ${keyOrPrefix} or under it`);
  }
  const newest = new Map<string, (typeof matching)[number]>();
  for (const version of matching) {
    const seen = newest.get(version.key);
    if (!seen || latestStart(version) > latestStart(seen)) newest.set(version.key, version);
  }
  const executions = new ExecutionLookup(target);
  const plan: Planned[] = [];
  for (const version of [...newest.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    const attempts = await resolveAttempts(version, executions);
    const latest = attempts.at(-1);
    const item = version.attempts.at(-1);
    if (!latest || !item) continue;
    if (statuses && !statuses.has(latest.status)) continue;
    const base = { key: version.key, executionArn: latest.executionArn, lastError: latest.error };
    if (latest.status === 'PROCESSING') {
      plan.push({ ...base, action: `skip: attempt ${latest.attempt} is still running` });
      continue;
    }
    const file = fileRef({
      bucket: version.bucket,
      key: version.key,
      versionTag: version.versionTag,
      size: version.size,
      receivedAt: item.receivedAt,
    });
    const skip = file ? await stillCurrent(target, file) : 'skip: not an upload under incoming/';
    if (skip || !file) {
      plan.push({ ...base, action: skip ?? 'skip' });
      continue;
    }
    const attempt = Math.max(...attempts.map((a) => a.attempt)) + 1;
    plan.push({ ...base, action: `replay as attempt ${attempt}`, replay: { file, attempt } });
  }
  return plan;
}

/** The plan as printed: without what only the run needs. */
export const planView = ({ replay, ...item }: Planned): ReplayPlanItem => item;

/**
 * Starts a new attempt for each replayable item, named after the version and the attempt so
 * that running the same replay twice starts it once, then waits for them to close.
 */
export async function runReplay(
  target: OpsTarget,
  plan: readonly Planned[],
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<ReplayResult[]> {
  const stateMachineArn = target.names.stateMachines.ProcessFile;
  if (!stateMachineArn) throw new Error('the stack names no ProcessFile state machine');
  const started = new Map<Planned, string>();
  for (const item of plan) {
    if (!item.replay) continue;
    const input: ProcessFileInput = { file: item.replay.file, attempt: item.replay.attempt };
    const { executionArn } = await target.sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: attemptExecutionName(item.replay.file, item.replay.attempt),
        input: JSON.stringify(input),
      }),
    );
    if (executionArn) started.set(item, executionArn);
  }
  const closed = await waitUntilClosed(target, [...started.values()], signal, onProgress);
  const ledger = new RunLedger(target.dynamodb, target.names.table);
  const results: ReplayResult[] = [];
  for (const item of plan) {
    const executionArn = started.get(item);
    if (!item.replay || !executionArn) {
      results.push({ ...planView(item), result: null });
      continue;
    }
    const recorded = (await ledger.history(item.replay.file.bucket, item.key)).find(
      (entry) => entry.executionId === executionArn && entry.status !== 'SKIPPED_DUPLICATE',
    );
    const execution = closed.get(executionArn);
    const final = recorded && recorded.status !== 'PROCESSING';
    results.push({
      ...planView(item),
      result: {
        attempt: item.replay.attempt,
        executionArn,
        status: final ? recorded.status : (execution?.status ?? 'RUNNING'),
        error: final ? recorded.error : (execution?.error ?? null),
      },
    });
  }
  return results;
}
