import {
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { recordedError } from '#commons/outcome.ts';
import type { RecordedError } from '#commons/types.ts';
import type { OpsTarget } from './target.ts';
import { isoTime } from './time.ts';

/**
 * How one state ran: SUCCEEDED (perhaps after retries), CAUGHT (it failed and a Catch moved the
 * execution on), FAILED (it failed the execution), RUNNING, INTERRUPTED (it never ended: the
 * stack stopped or the execution was stopped, and a resumed or redriven run went on), or the
 * execution's ABORTED/TIMED_OUT.
 */
export type StateStatus =
  | 'SUCCEEDED'
  | 'CAUGHT'
  | 'FAILED'
  | 'RUNNING'
  | 'INTERRUPTED'
  | 'ABORTED'
  | 'TIMED_OUT';

/** One run of one state; a state inside a Map runs once per iteration. */
export interface StateRun {
  readonly name: string;
  /** Task, Pass, Choice, Map, Parallel, Succeed, Fail, Wait. */
  readonly type: string;
  readonly status: StateStatus;
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly durationMs: number | null;
  /** Failed attempts that were tried again. */
  readonly retries: number;
  /** The failure that ended the state, when it did not succeed. */
  readonly error: RecordedError | null;
  /** Map states only: iterations started, succeeded and failed. */
  readonly iterations?: {
    readonly started: number;
    readonly succeeded: number;
    readonly failed: number;
  };
}

/** The execution as DescribeExecution tells it, for what the history cannot say by itself. */
export interface ExecutionEnd {
  readonly status?: string;
  readonly stopDate?: Date;
}

/** Every event of an execution, oldest first, across pages. */
export async function executionHistory(
  target: OpsTarget,
  executionArn: string,
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await target.sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/**
 * The names of a state machine's top-level states, or undefined when DescribeStateMachine is
 * refused. Only one top-level state runs at a time, which lets a history be read right across a
 * resumed run (the state it was in is entered again) and a Catch that left no exit event.
 */
export async function topLevelStates(
  target: OpsTarget,
  stateMachineArn: string | undefined,
): Promise<ReadonlySet<string> | undefined> {
  if (!stateMachineArn) return undefined;
  try {
    const { definition } = await target.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn }),
    );
    const states = (JSON.parse(definition ?? '{}') as { States?: Record<string, unknown> }).States;
    return states ? new Set(Object.keys(states)) : undefined;
  } catch {
    return undefined;
  }
}

/** `{ error, cause }` of a failure event, from whichever `*EventDetails` member carries it. */
export function failureOf(event: HistoryEvent): { error?: string; cause?: string } | undefined {
  for (const [member, value] of Object.entries(event)) {
    if (!member.endsWith('EventDetails') || typeof value !== 'object' || value === null) continue;
    const details = value as { error?: unknown; cause?: unknown };
    if (details.error !== undefined || details.cause !== undefined) {
      return {
        error: typeof details.error === 'string' ? details.error : undefined,
        cause: typeof details.cause === 'string' ? details.cause : undefined,
      };
    }
  }
  return undefined;
}

/** The error a failure event records, as the ledger records errors. */
export function errorOf(event: HistoryEvent): RecordedError | null {
  const failure = failureOf(event);
  if (!failure?.error && !failure?.cause) return null;
  return recordedError({ Error: failure.error ?? 'Error', Cause: failure.cause });
}

const type = (event: HistoryEvent): string => event.type ?? '';
const isEntered = (event: HistoryEvent) => type(event).endsWith('StateEntered');
const isExited = (event: HistoryEvent) => type(event).endsWith('StateExited');
const isAborted = (event: HistoryEvent) => /StateAborted$/.test(type(event));
/** A state's own failures: Task, Lambda and activity failures, and a Map's or Parallel's. */
const isFailure = (event: HistoryEvent) =>
  /(Failed|TimedOut)$/.test(type(event)) &&
  !/^(Execution|MapIteration|MapRun|ParallelBranch)/.test(type(event));
/** An attempt starting; only AWS histories have these. */
const isAttemptStart = (event: HistoryEvent) =>
  /^(Task|LambdaFunction|Activity)Scheduled$/.test(type(event));
const isAttemptSuccess = (event: HistoryEvent) =>
  /^(Task|LambdaFunction|Activity)Succeeded$/.test(type(event));

interface Occurrence {
  readonly enteredId: number;
  readonly name: string;
  readonly type: string;
  readonly entered: Date | undefined;
  exited?: Date;
  exitOutput?: string;
  aborted?: Date;
  /** When something else went on while it was open: a redrive, or the next top-level state. */
  superseded?: { readonly at: Date | undefined; readonly by: 'redrive' | 'next' };
  /** Failures that carry an error; the local runner also logs error-less retried/caught marks. */
  readonly failures: HistoryEvent[];
  /** Failure events with no error: AWS's MapStateFailed, or the local retried/caught marks. */
  bareFailures: number;
  attemptEvents: number;
  lastAttempt?: 'failed' | 'succeeded';
  iterations?: { started: number; succeeded: number; failed: number };
}

/**
 * Reads an execution's history event by event and tells which state run each event belongs to.
 * Local histories name the state on every failure (`resource`); AWS histories name the task's
 * resource instead, so their events are followed back through `previousEventId` to the state
 * they came from. Runs of the same state (Map iterations) are matched first in, first out.
 */
export class HistoryReader {
  private readonly occurrences: Occurrence[] = [];
  private readonly open: Occurrence[] = [];
  private readonly events = new Map<number, HistoryEvent>();
  private readonly byEnteredId = new Map<number, Occurrence>();

  /** @param topLevel the machine's top-level state names (see {@link topLevelStates}), if known */
  constructor(private readonly topLevel?: ReadonlySet<string>) {}

  /** Takes the next event; says which state it concerns, and its duration when it exits it. */
  push(event: HistoryEvent): { state: string | null; durationMs: number | null } {
    if (event.id !== undefined) this.events.set(event.id, event);
    if (type(event) === 'ExecutionRedriven') {
      this.supersedeOpen(event.timestamp, 'redrive');
      return { state: null, durationMs: null };
    }
    if (isEntered(event)) {
      const name = event.stateEnteredEventDetails?.name ?? '?';
      // One top-level state at a time: whatever is still open has ended without saying so.
      if (this.topLevel?.has(name)) this.supersedeOpen(event.timestamp, 'next');
      const occurrence: Occurrence = {
        enteredId: event.id ?? -1,
        name,
        type: type(event).slice(0, -'StateEntered'.length),
        entered: event.timestamp,
        failures: [],
        bareFailures: 0,
        attemptEvents: 0,
        ...(type(event) === 'MapStateEntered'
          ? { iterations: { started: 0, succeeded: 0, failed: 0 } }
          : {}),
      };
      this.occurrences.push(occurrence);
      this.open.push(occurrence);
      this.byEnteredId.set(occurrence.enteredId, occurrence);
      return { state: occurrence.name, durationMs: null };
    }
    if (isExited(event)) {
      const name = event.stateExitedEventDetails?.name;
      const occurrence = this.open.find((o) => o.name === name);
      if (!occurrence) return { state: name ?? null, durationMs: null };
      this.close(occurrence);
      occurrence.exited = event.timestamp;
      occurrence.exitOutput = event.stateExitedEventDetails?.output;
      return { state: occurrence.name, durationMs: millis(occurrence.entered, event.timestamp) };
    }
    if (/^MapIteration/.test(type(event))) {
      const name = event.mapIterationStartedEventDetails?.name ?? mapIterationName(event);
      const map = [...this.open]
        .reverse()
        .find((o) => o.iterations && (name === undefined || o.name === name));
      if (map?.iterations) {
        if (type(event) === 'MapIterationStarted') map.iterations.started++;
        else if (type(event) === 'MapIterationSucceeded') map.iterations.succeeded++;
        else if (type(event) === 'MapIterationFailed') map.iterations.failed++;
      }
      return { state: map?.name ?? name ?? null, durationMs: null };
    }
    if (/^(Execution|ParallelBranch)/.test(type(event))) return { state: null, durationMs: null };
    const occurrence = this.owner(event);
    if (!occurrence) return { state: null, durationMs: null };
    if (isFailure(event) && errorOf(event)) {
      occurrence.failures.push(event);
      occurrence.lastAttempt = 'failed';
    } else if (isFailure(event)) {
      occurrence.bareFailures++;
    } else if (isAttemptStart(event)) {
      occurrence.attemptEvents++;
    } else if (isAttemptSuccess(event)) {
      occurrence.lastAttempt = 'succeeded';
    } else if (isAborted(event)) {
      occurrence.aborted = event.timestamp;
      this.close(occurrence);
    }
    return { state: occurrence.name, durationMs: null };
  }

  /** Every state run so far, in the order they were entered. */
  runs(execution: ExecutionEnd = {}): StateRun[] {
    const closed = execution.status !== undefined && execution.status !== 'RUNNING';
    // The execution's own failure is the last failure of any state.
    const lastFailure = [...this.occurrences]
      .filter((o) => o.failures.length > 0)
      .sort((a, b) => (a.failures.at(-1)?.id ?? 0) - (b.failures.at(-1)?.id ?? 0))
      .at(-1);
    return this.occurrences.map((o): StateRun => {
      const failed = o.failures.length;
      const lastError = failed > 0 ? errorOf(o.failures.at(-1) as HistoryEvent) : null;
      let status: StateStatus;
      let end: Date | undefined;
      if (o.exited) {
        end = o.exited;
        status = failed > 0 && this.endedInFailure(o) ? 'CAUGHT' : 'SUCCEEDED';
      } else if (o.aborted) {
        end = o.aborted;
        status = execution.status === 'TIMED_OUT' ? 'TIMED_OUT' : 'ABORTED';
      } else if (o.superseded) {
        const failedAtAll = failed > 0 || o.bareFailures > 0;
        end = o.failures.at(-1)?.timestamp ?? o.superseded.at;
        status = !failedAtAll ? 'INTERRUPTED' : o.superseded.by === 'redrive' ? 'FAILED' : 'CAUGHT';
      } else if (!closed) {
        status = 'RUNNING';
      } else if (failed > 0) {
        // AWS may move on from a caught state without an exit event.
        status = execution.status === 'FAILED' && o === lastFailure ? 'FAILED' : 'CAUGHT';
        end = o.failures.at(-1)?.timestamp;
      } else {
        status = execution.status === 'SUCCEEDED' ? 'SUCCEEDED' : (execution.status as StateStatus);
        end = execution.stopDate;
      }
      const final = status === 'CAUGHT' || status === 'FAILED';
      return {
        name: o.name,
        type: o.type,
        status,
        startDate: isoTime(o.entered),
        stopDate: isoTime(end),
        durationMs: millis(o.entered, end),
        retries: Math.max(0, final ? failed - 1 : failed),
        error: final ? lastError : null,
        ...(o.iterations ? { iterations: { ...o.iterations } } : {}),
      };
    });
  }

  /**
   * Whether a state that exited after failures had its last attempt fail (a Catch took it on)
   * rather than succeed on a retry. AWS histories say so with TaskSucceeded; local ones do not,
   * so there the exit's output is read for the `{ Error, Cause }` that a Catch puts in it.
   */
  private endedInFailure(o: Occurrence): boolean {
    if (o.lastAttempt === 'succeeded') return false;
    if (o.attemptEvents > 0) return true;
    const errorName = failureOf(o.failures.at(-1) as HistoryEvent)?.error;
    return errorName !== undefined && carriesError(o.exitOutput, errorName);
  }

  private supersedeOpen(at: Date | undefined, by: 'redrive' | 'next'): void {
    for (const occurrence of this.open.splice(0)) occurrence.superseded = { at, by };
  }

  private close(occurrence: Occurrence): void {
    const at = this.open.indexOf(occurrence);
    if (at >= 0) this.open.splice(at, 1);
  }

  /** The open state run an event belongs to. */
  private owner(event: HistoryEvent): Occurrence | undefined {
    const resource = event.taskFailedEventDetails?.resource;
    const named = resource === undefined ? undefined : this.open.find((o) => o.name === resource);
    if (named) return named;
    let previous = event.previousEventId;
    for (let hops = 0; previous !== undefined && hops < 100; hops++) {
      const found = this.byEnteredId.get(previous);
      if (found) return this.open.includes(found) ? found : undefined;
      previous = this.events.get(previous)?.previousEventId;
    }
    return this.open.at(-1);
  }
}

/** The local runner logs map iterations without details; AWS names the Map state. */
function mapIterationName(event: HistoryEvent): string | undefined {
  return (
    event.mapIterationSucceededEventDetails?.name ??
    event.mapIterationFailedEventDetails?.name ??
    event.mapIterationAbortedEventDetails?.name
  );
}

function carriesError(output: string | undefined, errorName: string): boolean {
  if (output === undefined) return false;
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return false;
  }
  const search = (node: unknown, depth: number): boolean => {
    if (typeof node !== 'object' || node === null || depth > 4) return false;
    if ((node as { Error?: unknown }).Error === errorName) return true;
    return Object.values(node).some((child) => search(child, depth + 1));
  };
  return search(value, 0);
}

function millis(from: Date | undefined, to: Date | undefined): number | null {
  if (!from || !to) return null;
  return Math.max(0, to.getTime() - from.getTime());
}

/** The state runs of a whole history. */
export function stateRuns(
  events: readonly HistoryEvent[],
  execution: ExecutionEnd = {},
  topLevel?: ReadonlySet<string>,
): StateRun[] {
  const reader = new HistoryReader(topLevel);
  for (const event of events) reader.push(event);
  return reader.runs(execution);
}

/** `{ file: { bucket, key, versionTag } }`, the ProcessFile input that the start function builds. */
export function fileOfInput(
  input: string | undefined,
): { bucket?: string; key?: string; versionTag?: string } | undefined {
  try {
    const file = (JSON.parse(input ?? '{}') as { file?: unknown }).file;
    if (typeof file !== 'object' || file === null) return undefined;
    const { bucket, key, versionTag } = file as Record<string, unknown>;
    return {
      bucket: typeof bucket === 'string' ? bucket : undefined,
      key: typeof key === 'string' ? key : undefined,
      versionTag: typeof versionTag === 'string' ? versionTag : undefined,
    };
  } catch {
    return undefined;
  }
}
