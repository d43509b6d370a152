import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
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
    return unquote(head.ETag) === file.versionTag
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

/** Attempt numbers tried past the planned one, when earlier replays left executions behind. */
const ATTEMPT_SEARCH = 10;

/**
 * Starts attempt `attempt` of a version, named after the version and the attempt. A name that
 * exists already is a replay started before: one still running is waited for, and one that
 * closed without recording an attempt (stopped before its Claim) is passed over for the next.
 */
async function startAttempt(
  target: OpsTarget,
  stateMachineArn: string,
  file: FileRef,
  planned: number,
): Promise<{ executionArn: string; attempt: number }> {
  for (let attempt = planned; attempt < planned + ATTEMPT_SEARCH; attempt++) {
    const name = attemptExecutionName(file, attempt);
    const input: ProcessFileInput = { file, attempt };
    try {
      const started = await target.sfn.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { executionArn: started.executionArn ?? '', attempt };
    } catch (error) {
      if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (existing.status === 'RUNNING') return { executionArn, attempt };
    }
  }
  throw new Error(`attempts ${planned} to ${planned + ATTEMPT_SEARCH - 1} all exist already`);
}

/**
 * Starts a new attempt for each replayable item, then waits for them to close. An item that
 * could not start has its error in its result; the others go on.
 */
export async function runReplay(
  target: OpsTarget,
  plan: readonly Planned[],
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<ReplayResult[]> {
  const stateMachineArn = target.names.stateMachines.ProcessFile;
  if (!stateMachineArn) throw new Error('the stack names no ProcessFile state machine');
  const started = new Map<Planned, { executionArn: string; attempt: number }>();
  const refused = new Map<Planned, RecordedError>();
  for (const item of plan) {
    if (!item.replay) continue;
    try {
      started.set(
        item,
        await startAttempt(target, stateMachineArn, item.replay.file, item.replay.attempt),
      );
    } catch (error) {
      const failure = error as Error;
      refused.set(item, { name: failure.name, message: failure.message });
    }
  }
  const arns = [...started.values()].map((attempt) => attempt.executionArn);
  const closed = await waitUntilClosed(target, arns, signal, onProgress);
  const ledger = new RunLedger(target.dynamodb, target.names.table);
  const results: ReplayResult[] = [];
  for (const item of plan) {
    const start = started.get(item);
    const error = refused.get(item);
    if (!item.replay || (!start && !error)) {
      results.push({ ...planView(item), result: null });
      continue;
    }
    if (!start) {
      const attempt = item.replay.attempt;
      results.push({
        ...planView(item),
        result: { attempt, executionArn: '', status: 'NOT_STARTED', error: error ?? null },
      });
      continue;
    }
    const { executionArn, attempt } = start;
    const recorded = (await ledger.history(item.replay.file.bucket, item.key)).find(
      (entry) => entry.executionId === executionArn && entry.status !== 'SKIPPED_DUPLICATE',
    );
    const execution = closed.get(executionArn);
    const final = recorded && recorded.status !== 'PROCESSING';
    results.push({
      ...planView(item),
      result: {
        attempt,
        executionArn,
        status: final ? recorded.status : (execution?.status ?? 'RUNNING'),
        error: final ? recorded.error : (execution?.error ?? null),
      },
    });
  }
  return results;
}
