import { randomUUID } from 'node:crypto';
import {
  AwsJsonError,
  LOCAL_ACCOUNT_ID,
  type LocalEndpoint,
  serveJsonProtocol,
} from '../endpoint.ts';
import {
  allStates,
  rememberValidated,
  taskStates,
  validatedBefore,
  validationKey,
} from './definition.ts';
import { type LocalMapRunStates, localMapRuns, mapRunArnOf } from './distributed-map.ts';
import {
  type ExecutionJournal,
  type ExecutionRecord,
  type ExecutionStatus,
  ExecutionStore,
  MemoryJournal,
  type TaskCheckpoint,
} from './execution-store.ts';
import {
  eventSlot,
  type HistoryEvent,
  type HistoryEventBody,
  historyEvents,
  RedriveFilter,
  type ResumePoint,
  resumePoint,
} from './history.ts';

// aws-local-stepfunctions declares Node >= 22: without this every Task fails with a TypeError.
if (!('withResolvers' in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (value: T) => void;
      let reject!: (reason: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
const { StateMachine } = await import('aws-local-stepfunctions');

type Json = ReturnType<typeof JSON.parse>;
type StateMachineDefinition = ConstructorParameters<typeof StateMachine>[0];
type Handler = (input: Json) => Promise<Json>;

export type { ExecutionRecord, ExecutionStatus, HistoryEvent };

/** Runs a Task state's resource locally; throw an Error whose `name` is the ASL error name. */
export type TaskResolver = (resource: string) => Handler | undefined;

export interface LocalStateMachine {
  readonly arn: string;
  readonly definition: Json;
}

export interface LocalStepFunctionsOptions {
  readonly stateMachines: readonly LocalStateMachine[];
  readonly resolveTask: TaskResolver;
  /**
   * Keeps executions, their histories and task checkpoints across runs: a name is never reused,
   * as on AWS, and RUNNING executions go on after a restart (see {@link resumeRunning}).
   * @default - in memory only
   */
  readonly persistDir?: string;
  /** Milliseconds between retries, instead of the ASL's backoff (tests only). */
  readonly retryIntervalMs?: number;
}

/** AWS keeps a closed execution redrivable for 14 days. */
const REDRIVE_WINDOW_MS = 14 * 24 * 60 * 60 * 1000;
const REDRIVABLE: ReadonlySet<ExecutionStatus> = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

/** AWS's rule for execution names. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const VALID_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

class Machine {
  readonly name: string;
  readonly topLevel: ReadonlySet<string>;
  readonly handlers: Record<string, Handler> = {};
  /** Each Task state's resource, for TaskScheduled events. */
  readonly resources = new Map<string, string>();
  readonly retries: Record<string, number> = {};
  /** Rewritten Distributed Maps, by the name of their inline Map. */
  readonly mapRuns: ReadonlyMap<string, LocalMapRunStates>;
  readonly createdAt = Date.now();
  private readonly interpreters = new Map<string, InstanceType<typeof StateMachine>>();

  constructor(
    readonly arn: string,
    readonly definition: Json,
    options: LocalStepFunctionsOptions,
  ) {
    this.name = arn.split(':').pop() ?? arn;
    this.topLevel = new Set(Object.keys(definition.States ?? {}));
    this.mapRuns = localMapRuns(definition);
    for (const { name, resource } of taskStates(definition)) {
      const handler = options.resolveTask(resource);
      if (!handler) throw new Error(`No local handler for ${resource} (state ${name})`);
      this.handlers[name] = handler;
      this.resources.set(name, resource);
    }
    if (options.retryIntervalMs !== undefined) {
      for (const [name] of allStates(definition)) this.retries[name] = options.retryIntervalMs;
    }
    this.interpreter(definition.StartAt);
  }

  /** The interpreter for the definition started at `state`: how a resumed run skips what ran. */
  interpreter(state: string): InstanceType<typeof StateMachine> {
    let interpreter = this.interpreters.get(state);
    if (!interpreter) {
      // The whole definition is validated once; a later start leaves states unreachable, which
      // the validator rejects.
      // Keyed before the validator runs: it writes defaults (QueryLanguage) into the states.
      const key = state === this.definition.StartAt ? validationKey(this.definition) : undefined;
      const validate = key !== undefined && !validatedBefore(key);
      interpreter = new StateMachine(
        { ...this.definition, StartAt: state } as StateMachineDefinition,
        {
          validationOptions: validate ? { checkArn: true, checkPaths: true } : { noValidate: true },
        },
      );
      if (validate) rememberValidated(key);
      this.interpreters.set(state, interpreter);
    }
    return interpreter;
  }
}

/** A Distributed Map's run in one execution, counted from its inline Map's events. */
interface MapRun {
  readonly mapRunArn: string;
  readonly executionArn: string;
  readonly states: LocalMapRunStates;
  readonly maxConcurrency: number;
  readonly startDate: number;
  stopDate?: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  total: number;
  started: number;
  done: number;
  failed: number;
}

interface Run {
  abort: () => void;
  settled: Promise<void>;
  /** A stop asked through StopExecution, as opposed to the stack shutting down. */
  stopped: boolean;
}

/**
 * The Step Functions API over aws-local-stepfunctions: StartExecution, DescribeExecution,
 * ListExecutions, GetExecutionHistory, StopExecution, RedriveExecution, ListStateMachines and
 * DescribeStateMachine, in-process and over HTTP, so the start function, the CLI and the console
 * use the same SDK calls locally as on AWS.
 *
 * Durable: every event and every finished task is on disk as it happens. An execution that was
 * RUNNING when the process died goes on from the top-level state it was in; tasks that had
 * returned, in Map iterations and Parallel branches too, are answered from their checkpoint.
 * RedriveExecution uses the same mechanism, as AWS's redrive does.
 */
export class LocalStepFunctions {
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly machines = new Map<string, Machine>();
  private readonly runs = new Map<string, Run>();
  /** Map Runs by ARN, in memory: after a restart a resumed execution starts its run again. */
  private readonly mapRuns = new Map<string, MapRun>();
  private readonly store: ExecutionJournal;
  private readonly interrupted: ExecutionRecord[] = [];
  private suspended = false;
  private server?: LocalEndpoint;
  private readonly watchers = new Set<(record: Readonly<ExecutionRecord>) => void>();

  constructor(options: LocalStepFunctionsOptions) {
    for (const { arn, definition } of options.stateMachines) {
      this.machines.set(arn, new Machine(arn, definition, options));
    }
    if (options.persistDir === undefined) {
      this.store = new MemoryJournal();
    } else {
      const store = new ExecutionStore(options.persistDir);
      this.store = store;
      const names = [...this.machines.values()].map((machine) => machine.name);
      for (const record of store.load(names)) {
        this.executions.set(record.executionArn, record);
        if (record.status === 'RUNNING') this.interrupted.push(record);
      }
    }
  }

  /**
   * Calls `watcher` each time an execution starts, is redriven or closes, after the change is
   * stored; what EventBridge's Step Functions status-change events tell on AWS.
   * @returns a function that stops the calls
   */
  watch(watcher: (record: Readonly<ExecutionRecord>) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private save(record: ExecutionRecord): void {
    this.store.save(record);
    for (const watcher of this.watchers) {
      try {
        watcher(record);
      } catch (error) {
        console.error(`local Step Functions: a status watcher failed: ${error}`);
      }
    }
  }

  /** Executions still running. */
  get running(): number {
    return this.runs.size;
  }

  /**
   * Goes on with every execution that was RUNNING when the last process stopped. Call it once
   * the task handlers can run.
   */
  resumeRunning(): number {
    const interrupted = this.interrupted.splice(0);
    for (const record of interrupted) {
      const history = this.historyOf(record);
      this.launch(record, history, resumePoint(this.machine(record).definition.States, history));
    }
    return interrupted.length;
  }

  startExecution(request: { stateMachineArn: string; name?: string; input?: string }) {
    this.machineOf(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    // The name becomes a file name, too.
    if (!VALID_NAME.test(name)) {
      throw new AwsJsonError(
        'InvalidName',
        `Invalid Name: '${name}' (1 to 80 characters, no whitespace, brackets, wildcards, control characters or any of "#%\\^|~\`$&,;:/)`,
      );
    }
    const input = request.input ?? '{}';
    const executionArn = `${request.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // Idempotent only while the first one runs, and only for the same input, as on AWS.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: seconds(existing.startDate) };
      }
      throw new AwsJsonError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    try {
      JSON.parse(input);
    } catch {
      throw new AwsJsonError('InvalidExecutionInput', 'Invalid State Machine Execution Input');
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: request.stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      input,
      redriveCount: 0,
    };
    this.executions.set(executionArn, record);
    this.save(record);
    this.launch(record, [], undefined);
    return { executionArn, startDate: seconds(record.startDate) };
  }

  redriveExecution(request: { executionArn: string }) {
    const record = this.find(request.executionArn);
    const closedAt = record.stopDate ?? 0;
    if (!REDRIVABLE.has(record.status) || Date.now() - closedAt > REDRIVE_WINDOW_MS) {
      throw new AwsJsonError(
        'ExecutionNotRedrivable',
        `Execution '${record.executionArn}' is ${record.status} and cannot be redriven: only FAILED, ABORTED or TIMED_OUT executions closed in the last 14 days can`,
      );
    }
    const history = this.historyOf(record);
    const start = resumePoint(this.machine(record).definition.States, history);
    record.status = 'RUNNING';
    record.redriveCount += 1;
    record.redriveDate = Date.now();
    record.stopDate = undefined;
    record.error = undefined;
    record.cause = undefined;
    record.output = undefined;
    this.save(record);
    this.launch(record, history, start, {
      type: 'ExecutionRedriven',
      timestamp: record.redriveDate,
      executionRedrivenEventDetails: { redriveCount: record.redriveCount },
    });
    return { redriveDate: seconds(record.redriveDate) };
  }

  describeExecution(request: { executionArn: string }) {
    const record = this.find(request.executionArn);
    return {
      ...this.summary(record),
      input: record.input,
      output: record.output,
      error: record.error,
      cause: record.cause,
      redriveStatus:
        REDRIVABLE.has(record.status) && Date.now() - (record.stopDate ?? 0) <= REDRIVE_WINDOW_MS
          ? 'REDRIVABLE'
          : 'NOT_REDRIVABLE',
    };
  }

  listExecutions(request: {
    stateMachineArn: string;
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.machineOf(request.stateMachineArn);
    const all = [...this.executions.values()]
      .filter((e) => e.stateMachineArn === request.stateMachineArn)
      .filter((e) => !request.statusFilter || e.status === request.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    return paginate(all, request, 'executions', (e) => this.summary(e));
  }

  getExecutionHistory(request: {
    executionArn: string;
    reverseOrder?: boolean;
    maxResults?: number;
    nextToken?: string;
  }) {
    const events = [...this.historyOf(this.find(request.executionArn))];
    if (request.reverseOrder) events.reverse();
    // `index` is ours, for redrive; AWS's shape carries the iteration in its details.
    return paginate(
      events,
      request,
      'events',
      ({ index, ...event }): Record<string, Json> => ({
        ...event,
        timestamp: seconds(event.timestamp),
      }),
    );
  }

  stopExecution(request: { executionArn: string; error?: string; cause?: string }) {
    const record = this.find(request.executionArn);
    const run = this.runs.get(record.executionArn);
    if (record.status === 'RUNNING' && run) {
      record.error = request.error;
      record.cause = request.cause;
      run.stopped = true;
      run.abort();
    } else if (record.status === 'RUNNING' && this.interrupted.includes(record)) {
      // Not resumed yet: it stops where the last process left it.
      this.interrupted.splice(this.interrupted.indexOf(record), 1);
      record.status = 'ABORTED';
      record.stopDate = Date.now();
      record.error = request.error;
      record.cause = request.cause;
      this.save(record);
    }
    return { stopDate: seconds(Date.now()) };
  }

  listMapRuns(request: { executionArn: string; maxResults?: number; nextToken?: string }) {
    const record = this.find(request.executionArn);
    const runs = [...this.mapRuns.values()].filter((r) => r.executionArn === record.executionArn);
    return paginate(runs, request, 'mapRuns', (run) => ({
      executionArn: run.executionArn,
      mapRunArn: run.mapRunArn,
      stateMachineArn: `${record.stateMachineArn}/${run.states.map}`,
      startDate: seconds(run.startDate),
      stopDate: seconds(run.stopDate),
    }));
  }

  describeMapRun(request: { mapRunArn: string }) {
    const run = this.mapRuns.get(request.mapRunArn);
    if (!run) {
      throw new AwsJsonError('ResourceNotFound', `Map Run Does Not Exist: '${request.mapRunArn}'`);
    }
    const running = run.started - run.done;
    const counts = {
      pending: Math.max(0, run.total - run.started),
      running,
      succeeded: run.done - run.failed,
      failed: run.failed,
      timedOut: 0,
      aborted: 0,
      total: run.total,
      resultsWritten: run.status === 'RUNNING' ? 0 : run.done,
    };
    return {
      mapRunArn: run.mapRunArn,
      executionArn: run.executionArn,
      status: run.status,
      startDate: seconds(run.startDate),
      stopDate: seconds(run.stopDate),
      maxConcurrency: run.maxConcurrency,
      toleratedFailurePercentage: run.states.toleratedFailurePercentage,
      toleratedFailureCount: 0,
      itemCounts: counts,
      executionCounts: counts,
      redriveCount: 0,
    };
  }

  listStateMachines(request: { maxResults?: number; nextToken?: string }) {
    return paginate([...this.machines.values()], request, 'stateMachines', (machine) => ({
      stateMachineArn: machine.arn,
      name: machine.name,
      type: 'STANDARD',
      creationDate: seconds(machine.createdAt),
    }));
  }

  describeStateMachine(request: { stateMachineArn: string }) {
    const machine = this.machineOf(request.stateMachineArn);
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: JSON.stringify(machine.definition),
      roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`,
      type: 'STANDARD',
      creationDate: seconds(machine.createdAt),
    };
  }

  /** Serves the API on 127.0.0.1 for `AWS_ENDPOINT_URL_SFN`. */
  async listen(): Promise<LocalEndpoint> {
    this.server = await serveJsonProtocol('Step Functions', {
      StartExecution: (body) => this.startExecution(body),
      DescribeExecution: (body) => this.describeExecution(body),
      ListExecutions: (body) => this.listExecutions(body),
      GetExecutionHistory: (body) => this.getExecutionHistory(body),
      StopExecution: (body) => this.stopExecution(body),
      RedriveExecution: (body) => this.redriveExecution(body),
      ListStateMachines: (body) => this.listStateMachines(body),
      DescribeStateMachine: (body) => this.describeStateMachine(body),
      ListMapRuns: (body) => this.listMapRuns(body),
      DescribeMapRun: (body) => this.describeMapRun(body),
    });
    return this.server;
  }

  /**
   * Stops the interpreter without closing any execution: what was RUNNING stays RUNNING on disk
   * and goes on at the next start, as it would on AWS, where executions outlive any client.
   */
  async close(): Promise<void> {
    this.suspended = true;
    for (const run of this.runs.values()) run.abort();
    await Promise.allSettled([...this.runs.values()].map((run) => run.settled));
    await this.server?.close();
  }

  /**
   * Counts a rewritten Distributed Map's items from its inline Map's events, and opens its Map
   * Run when the inline Map starts: the `MapRunStarted` event it returns goes in the history.
   */
  private countMapRun(machine: Machine, record: ExecutionRecord, event: Json) {
    const name = event.state?.name ?? event.parentState?.name;
    const failedItem = [...machine.mapRuns.values()].find((states) => states.failed === name);
    const states = machine.mapRuns.get(name) ?? failedItem;
    if (!states) return undefined;
    const mapRunArn = mapRunArnOf(record.executionArn, states.map);
    const run = this.mapRuns.get(mapRunArn);
    if (event.type === 'StateEntered' && name === states.items) {
      const input = event.state.input ?? {};
      this.mapRuns.set(mapRunArn, {
        mapRunArn,
        executionArn: record.executionArn,
        states,
        maxConcurrency: states.maxConcurrency(input),
        startDate: event.timestamp ?? Date.now(),
        status: 'RUNNING',
        total: Array.isArray(input.sluiceMapItems) ? input.sluiceMapItems.length : 0,
        started: 0,
        done: 0,
        failed: 0,
      });
      return {
        type: 'MapRunStarted',
        timestamp: event.timestamp,
        mapRunStartedEventDetails: { mapRunArn },
      } as HistoryEventBody;
    }
    if (!run) return undefined;
    if (event.type === 'MapIterationStarted') run.started += 1;
    if (event.type === 'MapIterationSucceeded' || event.type === 'MapIterationFailed')
      run.done += 1;
    if (event.type === 'StateEntered' && name === states.failed) run.failed += 1;
    if (event.type === 'StateExited' && name === states.items) {
      run.status = 'SUCCEEDED';
      run.stopDate = event.timestamp ?? Date.now();
    }
    return undefined;
  }

  private summary(record: ExecutionRecord) {
    return {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: seconds(record.startDate),
      stopDate: seconds(record.stopDate),
      redriveCount: record.redriveCount,
      redriveDate: seconds(record.redriveDate),
    };
  }

  private machine(record: ExecutionRecord): Machine {
    return this.machineOf(record.stateMachineArn);
  }

  private machineOf(stateMachineArn: string): Machine {
    const machine = this.machines.get(stateMachineArn);
    if (!machine) {
      throw new AwsJsonError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return machine;
  }

  private find(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record) {
      throw new AwsJsonError(
        'ExecutionDoesNotExist',
        `Execution Does Not Exist: '${executionArn}'`,
      );
    }
    return record;
  }

  /**
   * From the journal, running or not: a running execution's events are there as soon as they
   * happen. Keeping them in memory as well held about 12 events of JSON text per execution, for
   * every one of a burst's thousand running executions.
   */
  private historyOf(record: ExecutionRecord): HistoryEvent[] {
    return this.store.history(record);
  }

  /**
   * Runs an execution from its start, or from `start` with the events and task checkpoints of
   * its earlier runs. Every event and finished task is written before the next can depend on it.
   */
  private launch(
    record: ExecutionRecord,
    prior: readonly HistoryEvent[],
    start: ResumePoint | undefined,
    opening?: HistoryEventBody,
  ): void {
    const machine = this.machine(record);
    const store = this.store;
    let lastId = prior.length;
    const lastOfSlot = new Map<string, number>();
    const append = (event: HistoryEventBody, slot?: string) => {
      const id = ++lastId;
      const entering = event.type.endsWith('StateEntered');
      const previousEventId = (!entering && slot && lastOfSlot.get(slot)) || id - 1;
      if (slot) lastOfSlot.set(slot, id);
      store.appendHistory(record, { id, previousEventId, ...event } as HistoryEvent);
    };
    const caught = new Map<string, string>();
    if (opening) append(opening);

    const run: Run = { abort: () => {}, settled: Promise.resolve(), stopped: false };
    this.runs.set(record.executionArn, run);
    const checkpoints = new Map<string, Json>();
    for (const task of prior.length > 0 ? store.tasks(record) : []) {
      checkpoints.set(`${task.state}\0${task.input}`, task.output);
    }
    const handlers: Record<string, Handler> = {};
    for (const [state, handler] of Object.entries(machine.handlers)) {
      handlers[state] = async (input) => {
        // aws-local-stepfunctions can start queued Map tasks after abort().
        if (this.suspended || run.stopped) throw new Error('The execution was stopped');
        const key = JSON.stringify(input);
        const checkpoint = checkpoints.get(`${state}\0${key}`);
        if (checkpoint !== undefined) return structuredClone(checkpoint);
        const output = await handler(input);
        // A task that outlived its run (stopped, or the stack closing) has no run to resume.
        if (this.runs.get(record.executionArn) !== run) return output;
        const task: TaskCheckpoint = { state, input: key, output: output ?? null };
        checkpoints.set(`${state}\0${key}`, task.output);
        try {
          store.appendTask(record, task);
        } catch (error) {
          // Only an optimisation for a resume: the task is safe to run again.
          console.error(`local Step Functions: no checkpoint for ${state}: ${error}`);
        }
        return output;
      };
    }
    const filter = prior.length > 0 ? new RedriveFilter(machine.topLevel, prior) : undefined;
    const input = start ? start.input : JSON.parse(record.input);
    const execution = machine.interpreter(start?.state ?? machine.definition.StartAt).run(input, {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: machine.retries },
      context: {
        // The interpreter sets StartTime and Input itself, from this run: a resumed run sees
        // its own start and input there, unlike on AWS. Only Begin reads StartTime.
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`,
          RedriveCount: record.redriveCount,
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    const logging = (async () => {
      for await (const event of execution.eventLogs) {
        if (this.suspended) continue;
        const opened = this.countMapRun(machine, record, event);
        if (opened) append(opened);
        if (filter && !filter.keep(event)) continue;
        const slot = eventSlot(event);
        for (const body of historyEvents(event, machine.resources, caught)) append(body, slot);
      }
    })();
    run.abort = execution.abort;
    run.settled = (async () => {
      try {
        record.output = JSON.stringify(await execution.result);
        record.status = 'SUCCEEDED';
      } catch (error) {
        if (this.suspended) return;
        // The interpreter wraps the error that ended the execution; AWS reports that error itself.
        const wrapped = error as Error & { name: string; cause?: unknown };
        const failure =
          wrapped.name === 'ExecutionError' && wrapped.cause instanceof Error
            ? wrapped.cause
            : wrapped;
        record.status =
          failure.name === 'ExecutionAbortedError'
            ? 'ABORTED'
            : failure.name === 'ExecutionTimeoutError'
              ? 'TIMED_OUT'
              : 'FAILED';
        record.error ??= failure.name;
        record.cause ??= failure.message;
      } finally {
        await logging.catch(() => {});
      }
      if (this.suspended) return;
      record.stopDate = Date.now();
      for (const mapRun of this.mapRuns.values()) {
        if (mapRun.executionArn !== record.executionArn || mapRun.status !== 'RUNNING') continue;
        mapRun.status = record.status === 'ABORTED' ? 'ABORTED' : 'FAILED';
        mapRun.stopDate = record.stopDate;
      }
      this.save(record);
    })().finally(() => {
      this.runs.delete(record.executionArn);
      store.release(record);
    });
  }
}

/** One page of `items`, with Step Functions' maxResults (default 100, 1000 at most) and nextToken. */
function paginate<T, R, K extends string>(
  items: readonly T[],
  request: { maxResults?: number; nextToken?: string },
  key: K,
  map: (item: T) => R,
): Record<K, R[]> & { nextToken?: string } {
  const start = Number(request.nextToken ?? 0) || 0;
  const size = Math.min(request.maxResults || 100, 1000);
  const page = items.slice(start, start + size).map(map);
  const next = start + size < items.length ? String(start + size) : undefined;
  return { [key]: page, nextToken: next } as Record<K, R[]> & { nextToken?: string };
}
