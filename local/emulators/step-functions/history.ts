type Json = ReturnType<typeof JSON.parse>;

/** One GetExecutionHistory event as stored; `timestamp` is in epoch milliseconds. */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: string;
  /** The Map iteration a nested state ran in; kept for redrive, not part of AWS's shape. */
  readonly index?: number;
  readonly [detail: string]: Json;
}

export type HistoryEventBody = Omit<HistoryEvent, 'id' | 'previousEventId'>;

const text = (value: Json) => (value === undefined ? undefined : JSON.stringify(value));

/**
 * Maps the interpreter's event log to GetExecutionHistory's shapes, so the SDK, which drops
 * members it does not know, delivers the details that the console and the CLI read.
 */
export function historyEvent(event: Json): HistoryEventBody {
  const { timestamp } = event as { timestamp: number };
  const failure = { error: event.Error, cause: text(event.Cause) };
  const index = typeof event.index === 'number' ? { index: event.index } : {};
  switch (event.type) {
    case 'ExecutionStarted':
      return {
        type: event.type,
        timestamp,
        executionStartedEventDetails: { input: text(event.input) },
      };
    case 'ExecutionSucceeded':
      return {
        type: event.type,
        timestamp,
        executionSucceededEventDetails: { output: text(event.output) },
      };
    case 'ExecutionFailed':
      return { type: event.type, timestamp, executionFailedEventDetails: failure };
    case 'StateEntered':
      return {
        type: `${event.state.type}StateEntered`,
        timestamp,
        ...index,
        stateEnteredEventDetails: { name: event.state.name, input: text(event.state.input) },
      };
    case 'StateExited':
      return {
        type: `${event.state.type}StateExited`,
        timestamp,
        ...index,
        stateExitedEventDetails: { name: event.state.name, output: text(event.state.output) },
      };
    case 'StateFailed':
    case 'StateRetried':
    case 'StateCaught':
      return {
        type: event.state.type === 'Task' ? 'TaskFailed' : `${event.state.type}StateFailed`,
        timestamp,
        ...index,
        taskFailedEventDetails: { resource: event.state.name, ...failure },
      };
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const details = `${event.type[0]?.toLowerCase()}${event.type.slice(1)}EventDetails`;
      return {
        type: event.type,
        timestamp,
        index: event.index,
        [details]: { name: event.parentState.name, index: event.index },
      };
    }
    default:
      return { type: event.type, timestamp };
  }
}

const enteredName = (event: HistoryEvent): string | undefined =>
  event.type.endsWith('StateEntered') ? event.stateEnteredEventDetails?.name : undefined;
const exitedName = (event: HistoryEvent): string | undefined =>
  event.type.endsWith('StateExited') ? event.stateExitedEventDetails?.name : undefined;

/** Where an interrupted or failed execution goes on: a top-level state and its input. */
export interface ResumePoint {
  readonly state: string;
  readonly input: Json;
}

/**
 * The top-level state an execution was in when it stopped: the last one entered, run again with
 * the input it had. A state that had exited goes on at its `Next`, so nothing that finished runs
 * twice; a Choice is evaluated again. Undefined when the execution never entered a state.
 */
export function resumePoint(
  states: Readonly<Record<string, Json>>,
  history: readonly HistoryEvent[],
): ResumePoint | undefined {
  let last: { name: string; input: Json; output?: Json } | undefined;
  for (const event of history) {
    const entered = enteredName(event);
    if (entered !== undefined && entered in states && event.index === undefined) {
      last = { name: entered, input: JSON.parse(event.stateEnteredEventDetails.input ?? 'null') };
    }
    const exited = exitedName(event);
    if (last && exited === last.name && event.index === undefined) {
      last.output = JSON.parse(event.stateExitedEventDetails.output ?? 'null');
    }
  }
  if (!last) return undefined;
  const next = states[last.name]?.Next;
  if (last.output !== undefined && typeof next === 'string') {
    return { state: next, input: last.output };
  }
  return { state: last.name, input: last.input };
}

/**
 * Drops, from a redriven or resumed run, the events of nested states that had already succeeded:
 * their tasks are answered from the checkpoint, and Step Functions' redrive re-runs only the
 * failed Map iterations and Parallel branches, so their history shows only those.
 */
export class RedriveFilter {
  private readonly succeeded = new Set<string>();
  private readonly succeededIterations = new Set<string>();
  private readonly skipping = new Set<string>();

  constructor(
    private readonly topLevel: ReadonlySet<string>,
    prior: readonly HistoryEvent[],
  ) {
    const open = new Map<string, string>();
    for (const event of prior) {
      const entered = enteredName(event);
      if (entered !== undefined && !topLevel.has(entered)) {
        open.set(this.slot(entered, event.index), event.stateEnteredEventDetails.input ?? '');
      }
      const exited = exitedName(event);
      if (exited !== undefined && !topLevel.has(exited)) {
        const slot = this.slot(exited, event.index);
        const input = open.get(slot);
        if (input !== undefined) this.succeeded.add(`${slot}\0${input}`);
      }
      if (event.type === 'MapIterationSucceeded') {
        this.succeededIterations.add(
          this.slot(event.mapIterationSucceededEventDetails?.name, event.index),
        );
      }
    }
  }

  /** Whether a new event belongs in the history. */
  keep(event: HistoryEventBody): boolean {
    if (event.type === 'ExecutionStarted') return false;
    if (event.type.startsWith('MapIteration')) {
      const details = Object.values(event).find((value) => value?.index !== undefined);
      return !this.succeededIterations.has(this.slot(details?.name, event.index));
    }
    const entered = enteredName(event as HistoryEvent);
    if (entered !== undefined && !this.topLevel.has(entered)) {
      const slot = this.slot(entered, event.index);
      if (!this.succeeded.has(`${slot}\0${event.stateEnteredEventDetails.input ?? ''}`))
        return true;
      this.skipping.add(slot);
      return false;
    }
    const exited = exitedName(event as HistoryEvent);
    if (exited !== undefined) return !this.skipping.delete(this.slot(exited, event.index));
    return true;
  }

  private slot(name: string | undefined, index: number | undefined): string {
    return `${name}\0${index ?? ''}`;
  }
}
