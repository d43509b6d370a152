import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  type ExecutionStatus,
  ListExecutionsCommand,
  RedriveExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { recordedError } from '#commons/outcome.ts';
import type { RecordedError } from '#commons/types.ts';
import { InvalidOption, UnknownExecution } from './errors.ts';
import { executionHistory, fileOfInput, topLevelStates } from './execution-history.ts';
import { REDRIVABLE_STATUSES } from './statuses.ts';
import type { OpsTarget } from './target.ts';
import { waitUntilClosed } from './wait.ts';

/** One line of `sluice redrive --dry-run`: a contract, like the result it becomes. */
export interface RedrivePlanItem {
  /** The file the execution works on, from its input; null when the input names none. */
  readonly key: string | null;
  readonly executionArn: string;
  readonly lastError: RecordedError | null;
  /** `redrive from <state>`, or `skip: <why>`. */
  readonly action: string;
}

export interface RedriveResult extends RedrivePlanItem {
  readonly result: {
    readonly status: string;
    readonly redriveCount: number;
    readonly error: RecordedError | null;
  } | null;
}

interface Planned extends RedrivePlanItem {
  readonly redrivable: boolean;
}

export interface RedriveSelection {
  /** Executions named on the command line (still filtered by `statuses`); else every closed one. */
  readonly executionArns?: readonly string[];
  readonly statuses?: readonly ExecutionStatus[];
  readonly since?: Date;
}

async function describe(target: OpsTarget, executionArn: string) {
  try {
    return await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ExecutionDoesNotExist' || name === 'InvalidArn') {
      throw new UnknownExecution(`no execution ${executionArn}`);
    }
    throw error;
  }
}

async function closedExecutions(target: OpsTarget, selection: RedriveSelection): Promise<string[]> {
  const stateMachineArn = target.names.stateMachines.ProcessFile;
  const since = selection.since?.getTime() ?? 0;
  const arns: string[] = [];
  for (const statusFilter of selection.statuses ?? REDRIVABLE_STATUSES) {
    let nextToken: string | undefined;
    do {
      const page = await target.sfn.send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter, nextToken, maxResults: 1000 }),
      );
      for (const execution of page.executions ?? []) {
        if ((execution.stopDate?.getTime() ?? 0) >= since && execution.executionArn) {
          arns.push(execution.executionArn);
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return arns;
}

/** The top-level state a closed execution stopped in: where its redrive starts. */
async function stoppedIn(target: OpsTarget, execution: DescribeExecutionOutput) {
  const topLevel = await topLevelStates(target, execution.stateMachineArn);
  const events = await executionHistory(target, execution.executionArn ?? '');
  const entered = events
    .map((event) => event.stateEnteredEventDetails?.name)
    .filter((name): name is string => name !== undefined && (!topLevel || topLevel.has(name)));
  return entered.at(-1);
}

/** What `sluice redrive` would do with each selected execution. */
export async function planRedrive(
  target: OpsTarget,
  selection: RedriveSelection,
): Promise<Planned[]> {
  const arns = selection.executionArns?.length
    ? selection.executionArns
    : await closedExecutions(target, selection);
  const plan: Planned[] = [];
  for (const executionArn of arns) {
    const execution = await describe(target, executionArn);
    const status = execution.status as ExecutionStatus;
    if (
      selection.executionArns?.length &&
      selection.statuses &&
      !selection.statuses.includes(status)
    ) {
      continue;
    }
    const lastError =
      execution.error || execution.cause
        ? recordedError({ Error: execution.error ?? 'Error', Cause: execution.cause })
        : null;
    const redrivable = execution.redriveStatus === 'REDRIVABLE';
    const state = redrivable ? await stoppedIn(target, execution) : undefined;
    plan.push({
      key: fileOfInput(execution.input)?.key ?? null,
      executionArn,
      lastError,
      redrivable,
      action: redrivable
        ? `redrive (it stopped in ${state ?? 'no state'})`
        : `skip: ${execution.status} executions cannot be redriven${execution.redriveStatusReason ? ` (${execution.redriveStatusReason})` : ''}`,
    });
  }
  return plan;
}

export const planView = ({ redrivable, ...item }: Planned): RedrivePlanItem => item;

/** RedriveExecution for each redrivable item, then waits for them to close. */
export async function runRedrive(
  target: OpsTarget,
  plan: readonly Planned[],
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<RedriveResult[]> {
  const redriven = plan.filter((item) => item.redrivable);
  for (const item of redriven) {
    await target.sfn.send(new RedriveExecutionCommand({ executionArn: item.executionArn }));
  }
  const closed = await waitUntilClosed(
    target,
    redriven.map((item) => item.executionArn),
    signal,
    onProgress,
  );
  return plan.map((item) => {
    const execution = item.redrivable ? closed.get(item.executionArn) : undefined;
    return { ...planView(item), result: execution ?? null };
  });
}

/** `sluice redrive --dlq`: the upload queue's dead letters, to be moved back. */
export interface DeadLetterPlan {
  readonly queue: string;
  readonly queueArn: string;
  readonly messages: number;
  /** `move N message(s) back to the upload queue`, or `skip: <why>`. */
  readonly action: string;
}

export interface DeadLetterResult extends DeadLetterPlan {
  readonly result: { readonly taskHandle: string } | null;
}

export async function planDeadLetters(target: OpsTarget): Promise<DeadLetterPlan> {
  const queue = target.names.deadLetterQueue;
  if (!queue) throw new InvalidOption(`${target.description} names no dead-letter queue`);
  const { Attributes = {} } = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue,
      AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages'],
    }),
  );
  const messages = Number(Attributes.ApproximateNumberOfMessages ?? 0);
  return {
    queue,
    queueArn: Attributes.QueueArn ?? '',
    messages,
    action:
      messages > 0
        ? `move ${messages} message(s) back to the upload queue`
        : 'skip: the dead-letter queue is empty',
  };
}

/** StartMessageMoveTask from the dead-letter queue to the queue it serves, as on AWS. */
export async function runDeadLetters(
  target: OpsTarget,
  plan: DeadLetterPlan,
): Promise<DeadLetterResult> {
  if (plan.messages === 0) return { ...plan, result: null };
  const { TaskHandle = '' } = await target.sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: plan.queueArn }),
  );
  return { ...plan, result: { taskHandle: TaskHandle } };
}
