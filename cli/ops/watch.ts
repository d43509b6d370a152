import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  type ExecutionListItem,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { INCOMING_PREFIX } from '#commons/constants.ts';
import { recordedError } from '#commons/outcome.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { RecordedError } from '#commons/types.ts';
import { pause } from './command.ts';
import { UnknownExecution, UnknownFile } from './errors.ts';
import {
  errorOf,
  executionHistory,
  fileOfInput,
  HistoryReader,
  topLevelStates,
} from './execution-history.ts';
import { groupVersions, latestStart } from './ledger-view.ts';
import type { OpsTarget } from './target.ts';
import { isoTime } from './time.ts';

/** One line of `sluice watch -o jsonl`: a history event, or an execution that started or ended. */
export interface WatchEvent {
  readonly executionArn: string;
  readonly key: string | null;
  /** The history event's id; null for the started/ended lines of `watch` with no execution. */
  readonly id: number | null;
  readonly timestamp: string | null;
  /** The history event type (`TaskStateEntered`, `TaskFailed`, `ExecutionSucceeded`, …). */
  readonly type: string;
  /** The state the event concerns. */
  readonly state: string | null;
  /** The execution's status, on the events that end it (and on `ExecutionStarted`). */
  readonly status: string | null;
  readonly error: RecordedError | null;
  /** On `*StateExited`: how long the state ran. */
  readonly durationMs: number | null;
  /** On the events that end an execution: the file's status in the ledger, if it has one. */
  readonly fileStatus?: string | null;
}

/** How often the history and the list are read again, as the console's live views do. */
export const POLL_INTERVAL_MS = 500;

/** The history events that end an execution, and the status each leaves. */
const TERMINAL_TYPES: ReadonlyMap<string, string> = new Map([
  ['ExecutionSucceeded', 'SUCCEEDED'],
  ['ExecutionFailed', 'FAILED'],
  ['ExecutionAborted', 'ABORTED'],
  ['ExecutionTimedOut', 'TIMED_OUT'],
]);

/** `SUCCEEDED` → `ExecutionSucceeded`, `TIMED_OUT` → `ExecutionTimedOut`. */
function executionEventType(status: string): string {
  if (status === 'RUNNING') return 'ExecutionStarted';
  const words = status.toLowerCase().split('_');
  return `Execution${words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`;
}

async function describe(target: OpsTarget, executionArn: string): Promise<DescribeExecutionOutput> {
  try {
    return await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ExecutionDoesNotExist' || name === 'InvalidArn') {
      throw new UnknownExecution(`no execution ${executionArn} in ${target.description}`);
    }
    throw error;
  }
}

/** The file's status that an execution left in the ledger. */
async function fileStatusOf(
  target: OpsTarget,
  key: string | null,
  executionArn: string,
): Promise<string | null> {
  if (key === null) return null;
  const items = await new RunLedger(target.dynamodb, target.names.table).history(
    target.names.bucket,
    key,
  );
  const own = items.filter((item) => item.executionId === executionArn);
  return (own.find((item) => item.status !== 'SKIPPED_DUPLICATE') ?? own[0])?.status ?? null;
}

/** A `sluice watch` argument to an execution ARN: an ARN itself, or a key's latest attempt. */
export async function executionOf(target: OpsTarget, ref: string): Promise<string> {
  if (ref.startsWith('arn:')) return ref;
  const ledger = new RunLedger(target.dynamodb, target.names.table);
  for (const key of ref.startsWith(INCOMING_PREFIX) ? [ref] : [ref, `${INCOMING_PREFIX}${ref}`]) {
    const versions = groupVersions(await ledger.history(target.names.bucket, key));
    const latest = versions.sort((a, b) => latestStart(b).localeCompare(latestStart(a)))[0];
    const arn = latest?.attempts.at(-1)?.executionId;
    if (arn) return arn;
  }
  throw new UnknownFile(`no file ${ref} in the ledger of ${target.description}`);
}

/**
 * Follows one execution: emits its history so far, then each new event, until it ends (resolves
 * to its status) or `signal` aborts (resolves to undefined).
 */
export async function followExecution(
  target: OpsTarget,
  executionArn: string,
  emit: (event: WatchEvent) => void,
  signal: AbortSignal,
  intervalMs = POLL_INTERVAL_MS,
): Promise<string | undefined> {
  const first = await describe(target, executionArn);
  const key = fileOfInput(first.input)?.key ?? null;
  const reader = new HistoryReader(await topLevelStates(target, first.stateMachineArn));
  let lastId = 0;
  let ended = false;
  for (;;) {
    // Described before the history is read, so a closed status means the history is complete.
    const execution = await describe(target, executionArn);
    const closed = execution.status !== 'RUNNING';
    const events = await executionHistory(target, executionArn);
    for (const event of events) {
      if ((event.id ?? 0) <= lastId) continue;
      lastId = event.id ?? lastId;
      const { state, durationMs } = reader.push(event);
      const ends = TERMINAL_TYPES.get(event.type ?? '');
      const terminal = ends !== undefined;
      // A redriven execution's history holds the end it was redriven from.
      ended = event.type === 'ExecutionRedriven' ? false : ended || terminal;
      emit({
        executionArn,
        key,
        id: event.id ?? null,
        timestamp: isoTime(event.timestamp),
        type: event.type ?? 'Unknown',
        state,
        status: ends ?? null,
        error: errorOf(event),
        durationMs,
        // The ledger item is written before an execution ends, so it is there to read.
        ...(terminal ? { fileStatus: await fileStatusOf(target, key, executionArn) } : {}),
      });
    }
    if (closed) {
      if (!ended) {
        // Not every history ends with its own terminal event (the local runner's aborts).
        emit({
          executionArn,
          key,
          id: null,
          timestamp: isoTime(execution.stopDate),
          type: executionEventType(execution.status ?? 'FAILED'),
          state: null,
          status: execution.status ?? null,
          error: execution.error
            ? recordedError({ Error: execution.error, Cause: execution.cause })
            : null,
          durationMs: null,
          fileStatus: await fileStatusOf(target, key, executionArn),
        });
      }
      return execution.status;
    }
    await pause(intervalMs, signal);
    if (signal.aborted) return undefined;
  }
}

/**
 * Tails every state machine of the stack: emits an event for each execution that starts, and
 * for each that ends or changes status, after the first look (which only takes stock), until
 * `signal` aborts. Reads the newest 100 executions of each machine per look.
 */
export async function tailExecutions(
  target: OpsTarget,
  emit: (event: WatchEvent) => void,
  signal: AbortSignal,
  intervalMs = POLL_INTERVAL_MS,
  onReady?: () => void,
): Promise<void> {
  const known = new Map<string, string>();
  const keys = new Map<string, string | null>();
  const list = async (): Promise<ExecutionListItem[]> => {
    const pages = await Promise.all(
      Object.values(target.names.stateMachines).map((stateMachineArn) =>
        target.sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 100 })),
      ),
    );
    return pages
      .flatMap((page) => page.executions ?? [])
      .sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
  };
  for (const execution of await list()) {
    if (execution.executionArn) known.set(execution.executionArn, execution.status ?? '');
  }
  onReady?.();
  while (!signal.aborted) {
    await pause(intervalMs, signal);
    if (signal.aborted) break;
    for (const execution of await list()) {
      const arn = execution.executionArn;
      const status = execution.status ?? '';
      if (!arn) continue;
      const before = known.get(arn);
      if (before === status) continue;
      known.set(arn, status);
      let details: DescribeExecutionOutput | undefined;
      if (!keys.has(arn) || status !== 'SUCCEEDED') {
        details = await target.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        keys.set(arn, fileOfInput(details.input)?.key ?? null);
      }
      const key = keys.get(arn) ?? null;
      const line = (type: string, timestamp: Date | undefined): WatchEvent => ({
        executionArn: arn,
        key,
        id: null,
        timestamp: isoTime(timestamp),
        type,
        state: null,
        status,
        error:
          type !== 'ExecutionStarted' && details?.error
            ? recordedError({ Error: details.error, Cause: details.cause })
            : null,
        durationMs:
          type !== 'ExecutionStarted' && execution.startDate && execution.stopDate
            ? execution.stopDate.getTime() - execution.startDate.getTime()
            : null,
      });
      if (before === undefined)
        emit({ ...line('ExecutionStarted', execution.startDate), status: 'RUNNING' });
      if (status !== 'RUNNING') {
        emit({
          ...line(executionEventType(status), execution.stopDate),
          fileStatus: await fileStatusOf(target, key, arn),
        });
      } else if (before !== undefined) {
        emit(line('ExecutionRedriven', execution.redriveDate ?? execution.startDate));
      }
    }
  }
}
