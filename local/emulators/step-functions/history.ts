type Json = ReturnType<typeof JSON.parse>;

/** One GetExecutionHistory event as stored; `timestamp` is in epoch milliseconds. */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: string;
  /** The Map iteration a nested state ran in; kept for redrive, not part of AWS's shape. */
  readonly index?: number;
  /** On the exit of a state a Catch took: where it went. Ours, for resuming, like `index`. */
  readonly next?: string;
  readonly [detail: string]: Json;
}

export type HistoryEventBody = Omit<HistoryEvent, 'id' | 'previousEventId'>;

const text = (value: Json) => (value === undefined ? undefined : JSON.stringify(value));
/** Causes are text already (a Lambda error's JSON, say); anything else is encoded once. */
const causeText = (cause: Json) => (typeof cause === 'string' ? cause : text(cause));

/** How AWS names a Task's resource in its events: `lambda` and an ARN, or `dynamodb` and `putItem`. */
function taskResource(resource: string): { resourceType: string; resource: string } {
  const integration = /^arn:aws:states:::([\w-]+):(\w+)/.exec(resource);
  return integration
    ? { resourceType: integration[1] ?? '', resource: integration[2] ?? '' }
    : { resourceType: 'lambda', resource };
}

/**
 * Maps one event of the interpreter's log to GetExecutionHistory's events, in AWS's shapes, so
 * the SDK (which drops members it does not know) delivers what the console and the CLI read,
 * and they read local and AWS histories alike: a Task attempt is a TaskScheduled, its failure
 * a TaskFailed, and a retry another TaskScheduled. `resources` names each Task's resource;
 * `caught` holds, per run of a state, the Catch target it is going to.
 */
export function historyEvents(
  event: Json,
  resources: ReadonlyMap<string, string>,
  caught: Map<string, string>,
): HistoryEventBody[] {
  const { timestamp } = event as { timestamp: number };
  const index = typeof event.index === 'number' ? { index: event.index } : {};
  const name = event.state?.name;
  const task = event.state?.type === 'Task';
  const slot = eventSlot(event) ?? '';
  const { resourceType, resource } = taskResource(resources.get(name) ?? name);
  const scheduled = (): HistoryEventBody => ({
    type: 'TaskScheduled',
    timestamp,
    ...index,
    taskScheduledEventDetails: {
      resourceType,
      resource,
      region: 'us-east-1',
      parameters: text(event.state.input),
    },
  });
  switch (event.type) {
    case 'ExecutionStarted':
      return [
        { type: event.type, timestamp, executionStartedEventDetails: { input: text(event.input) } },
      ];
    case 'ExecutionSucceeded':
      return [
        {
          type: event.type,
          timestamp,
          executionSucceededEventDetails: { output: text(event.output) },
        },
      ];
    case 'ExecutionFailed':
      return [
        {
          type: event.type,
          timestamp,
          executionFailedEventDetails: { error: event.Error, cause: causeText(event.Cause) },
        },
      ];
    case 'StateEntered': {
      const entered: HistoryEventBody = {
        type: `${event.state.type}StateEntered`,
        timestamp,
        ...index,
        stateEnteredEventDetails: { name, input: text(event.state.input) },
      };
      caught.delete(slot);
      return task ? [entered, scheduled()] : [entered];
    }
    case 'StateExited': {
      const next = caught.get(slot);
      caught.delete(slot);
      const exited: HistoryEventBody = {
        type: `${event.state.type}StateExited`,
        timestamp,
        ...index,
        ...(next === undefined ? {} : { next }),
        stateExitedEventDetails: { name, output: text(event.state.output) },
      };
      // A caught Task exits on its Catch's path, with no TaskSucceeded, as on AWS.
      if (!task || next !== undefined) return [exited];
      const succeeded: HistoryEventBody = {
        type: 'TaskSucceeded',
        timestamp,
        ...index,
        taskSucceededEventDetails: {
          resourceType,
          resource,
          output: text(event.state.output),
        },
      };
      return [succeeded, exited];
    }
    case 'StateFailed': {
      const failure = { error: event.Error, cause: causeText(event.Cause) };
      return [
        task
          ? {
              type: 'TaskFailed',
              timestamp,
              ...index,
              taskFailedEventDetails: { resourceType, resource, ...failure },
            }
          : {
              // AWS gives MapStateFailed no details, and SDKs drop members they do not know, so
              // the error rides in the one failure member they keep.
              type: `${event.state.type}StateFailed`,
              timestamp,
              ...index,
              taskFailedEventDetails: {
                resourceType: event.state.type,
                resource: name,
                ...failure,
              },
            },
      ];
    }
    case 'StateRetried':
      return task ? [scheduled()] : [];
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const details = `${event.type[0]?.toLowerCase()}${event.type.slice(1)}EventDetails`;
      return [
        {
          type: event.type,
          timestamp,
          index: event.index,
          [details]: { name: event.parentState.name, index: event.index },
        },
      ];
    }
    case 'StateCaught':
      caught.set(slot, event.catch?.catcher?.Next ?? '');
      return [];
    case 'ExecutionTimeout':
      return [{ type: 'ExecutionTimedOut', timestamp }];
    case 'ParallelBranchStarted':
    case 'ParallelBranchSucceeded':
    case 'ParallelBranchFailed':
      // Not AWS's: a Parallel's history is its states'.
      return [];
    default:
      return [{ type: event.type, timestamp }];
  }
}

/**
 * Which run of a state an interpreter event belongs to: the state's name and its Map iteration.
 * The events of one run chain through `previousEventId`, as AWS's do, so a reader can tell
 * interleaved Map iterations apart.
 */
export function eventSlot(event: Json): string | undefined {
  const name = event.state?.name ?? event.parentState?.name;
  if (name === undefined) return undefined;
  return `${name}\0${event.state ? (event.index ?? '') : ''}`;
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
 * the input it had. A state that had exited goes on where it went (its `Next`, or the target of
 * the Catch that took it), so nothing that finished runs twice; a Choice is evaluated again.
 * Undefined when the execution never entered a state.
 */
export function resumePoint(
  states: Readonly<Record<string, Json>>,
  history: readonly HistoryEvent[],
): ResumePoint | undefined {
  let last: { name: string; input: Json; output?: Json; next?: string } | undefined;
  for (const event of history) {
    const entered = enteredName(event);
    if (entered !== undefined && entered in states && event.index === undefined) {
      last = { name: entered, input: JSON.parse(event.stateEnteredEventDetails.input ?? 'null') };
    }
    const exited = exitedName(event);
    if (last && exited === last.name && event.index === undefined) {
      last.output = JSON.parse(event.stateExitedEventDetails.output ?? 'null');
      last.next = event.next;
    }
  }
  if (!last) return undefined;
  // A state a Catch took goes on at the Catch's target, with the error in its output.
  const next = last.next || states[last.name]?.Next;
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

  /** Whether an event of the interpreter's log belongs in the redriven run's history. */
  keep(event: Json): boolean {
    if (event.type === 'ExecutionStarted') return false;
    if (event.type === 'MapIterationStarted' || event.type === 'MapIterationSucceeded') {
      return !this.succeededIterations.has(this.slot(event.parentState?.name, event.index));
    }
    const name: string | undefined = event.state?.name;
    if (name === undefined || this.topLevel.has(name)) return true;
    const slot = this.slot(name, event.index);
    if (event.type === 'StateEntered') {
      if (!this.succeeded.has(`${slot}\0${text(event.state.input) ?? ''}`)) return true;
      this.skipping.add(slot);
      return false;
    }
    if (event.type === 'StateExited') return !this.skipping.delete(slot);
    return !this.skipping.has(slot);
  }

  private slot(name: string | undefined, index: number | undefined): string {
    return `${name}\0${index ?? ''}`;
  }
}
