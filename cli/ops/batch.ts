import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListMapRunsCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  type BatchMode,
  type BatchSummary,
  batchExecutionName,
  checkBatchPrefix,
  InvalidBatchPrefix,
  type ProcessBatchInput,
  summaryKeyOf,
} from '#commons/batch.ts';
import {
  type BatchItemPlan,
  executionRunning,
  type ListedObject,
  planBatchItem,
} from '#commons/batch-plan.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import { pause } from './command.ts';
import { InvalidOption, OpsUsageError } from './errors.ts';
import type { OpsTarget } from './target.ts';

/** The stack has no ProcessBatch: deployed before batches existed. */
export class NoBatchStateMachine extends OpsUsageError {
  override name = 'NoBatchStateMachine';
}

/** `sluice batch --dry-run -o json`: a public contract. */
export interface BatchPlanView {
  readonly prefix: string;
  readonly files: number;
  readonly plan: readonly {
    readonly key: string;
    readonly action: string;
    readonly reason: string;
  }[];
}

/** @throws InvalidOption for a prefix outside `incoming/` */
export function batchPrefix(prefix: string): string {
  try {
    return checkBatchPrefix(prefix);
  } catch (error) {
    if (error instanceof InvalidBatchPrefix) throw new InvalidOption(error.message);
    throw error;
  }
}

/** Every object under the prefix, as the Distributed Map's ItemReader lists them. */
export async function listPrefix(target: OpsTarget, prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await target.s3.send(
      new ListObjectsV2Command({
        Bucket: target.names.bucket,
        Prefix: prefix,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      objects.push({
        Key: object.Key ?? '',
        Etag: object.ETag ?? '',
        Size: object.Size ?? 0,
        LastModified: Math.floor((object.LastModified?.getTime() ?? 0) / 1000),
      });
    }
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

/** What a batch would do with each object: the decision PlanBatchItem makes, made here. */
export async function planBatch(
  target: OpsTarget,
  prefix: string,
  mode: BatchMode,
): Promise<BatchPlanView> {
  const ledger = new RunLedger(target.dynamodb, target.names.table);
  const objects = await listPrefix(target, prefix);
  const isRunning = executionRunning(target.sfn);
  const plans: BatchItemPlan[] = [];
  for (const object of objects) {
    const items = await ledger.history(target.names.bucket, object.Key);
    plans.push(
      await planBatchItem(
        object,
        { bucket: target.names.bucket, batchId: 'dry-run', mode },
        items,
        isRunning,
      ),
    );
  }
  return {
    prefix,
    files: objects.length,
    plan: plans.map(({ key, action, reason }) => ({ key, action, reason })),
  };
}

export interface BatchRun {
  readonly summary: BatchSummary | undefined;
  /** How the ProcessBatch execution closed, or RUNNING when the wait was cut short. */
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  readonly executionArn: string;
}

/** How often `sluice batch` asks how far the batch got. */
const POLL_MS = 500;

/**
 * Starts ProcessBatch over the prefix and waits for it, reporting children done out of the
 * total from its Map Run, as the Step Functions console does.
 */
export async function runBatch(
  target: OpsTarget,
  input: ProcessBatchInput,
  signal: AbortSignal,
  onProgress: (done: number, total: number) => void,
): Promise<BatchRun> {
  const stateMachineArn = target.names.stateMachines.ProcessBatch;
  if (!stateMachineArn) {
    throw new NoBatchStateMachine(
      'this stack has no ProcessBatch state machine: deploy or start a sluice with batches',
    );
  }
  const { executionArn } = await target.sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      name: batchExecutionName(input.batchId),
      input: JSON.stringify(input),
    }),
  );
  if (!executionArn) throw new Error('StartExecution returned no executionArn');
  for (;;) {
    const execution = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const progress = await mapRunProgress(target, executionArn);
    if (progress) onProgress(progress.done, progress.total);
    if (execution.status !== 'RUNNING') {
      return {
        summary: await readSummary(target, input.batchId),
        status: execution.status ?? 'UNKNOWN',
        error: execution.error,
        cause: execution.cause,
        executionArn,
      };
    }
    if (signal.aborted) return { summary: undefined, status: 'RUNNING', executionArn };
    await pause(POLL_MS, signal);
  }
}

async function mapRunProgress(target: OpsTarget, executionArn: string) {
  const { mapRuns } = await target.sfn.send(new ListMapRunsCommand({ executionArn }));
  const mapRunArn = mapRuns?.[0]?.mapRunArn;
  if (!mapRunArn) return undefined;
  const { itemCounts } = await target.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
  if (!itemCounts) return undefined;
  const done =
    (itemCounts.succeeded ?? 0) +
    (itemCounts.failed ?? 0) +
    (itemCounts.timedOut ?? 0) +
    (itemCounts.aborted ?? 0);
  return { done, total: itemCounts.total ?? 0 };
}

async function readSummary(target: OpsTarget, batchId: string): Promise<BatchSummary | undefined> {
  try {
    const object = await target.s3.send(
      new GetObjectCommand({ Bucket: target.names.bucket, Key: summaryKeyOf(batchId) }),
    );
    return JSON.parse((await object.Body?.transformToString()) ?? 'null') as BatchSummary;
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}
