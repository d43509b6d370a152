import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeServer, LOCAL_ACCOUNT_ID, listenOnLoopback } from './endpoint.ts';

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

/** Runs a Task state's resource locally; throw an Error whose `name` is the ASL error name. */
export type TaskResolver = (resource: string) => ((input: Json) => Promise<Json>) | undefined;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  readonly startDate: number;
  stopDate?: number;
  readonly input: string;
  output?: string;
  error?: string;
  cause?: string;
  readonly history: HistoryEvent[];
}

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: string;
  readonly [detail: string]: Json;
}

/** Substitutes `${Name}` placeholders as CloudFormation's definitionSubstitutions does. */
export function substituteDefinition(text: string, substitutions: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}/g, (placeholder, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new Error(`No substitution for ${placeholder}`);
    return value;
  });
}

/** Every state in a definition, nested Parallel branches and Map processors included. */
export function* allStates(machine: Json): Generator<[string, Json]> {
  for (const [name, state] of Object.entries<Json>(machine?.States ?? {})) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) yield* allStates(processor);
  }
}

/** Every Task state, which the local runner must resolve to a local handler. */
export function taskStates(definition: Json): { name: string; resource: string }[] {
  return [...allStates(definition)]
    .filter(([, state]) => state.Type === 'Task')
    .map(([name, state]) => ({ name, resource: state.Resource }));
}

class ApiError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export interface LocalStateMachine {
  readonly arn: string;
  readonly definition: Json;
}

export interface LocalStepFunctionsOptions {
  readonly stateMachines: readonly LocalStateMachine[];
  readonly resolveTask: TaskResolver;
  /** Keeps executions across runs, so a name is never reused, as on AWS. */
  readonly persistDir?: string;
  /** Milliseconds between retries, instead of the ASL's backoff (tests only). */
  readonly retryIntervalMs?: number;
}

const seconds = (ms: number) => ms / 1000;

/**
 * The Step Functions API over aws-local-stepfunctions: StartExecution, DescribeExecution,
 * ListExecutions, GetExecutionHistory and StopExecution, in-process and over HTTP, so the start
 * function, the CLI and the console use the same SDK calls locally as on AWS.
 */
export class LocalStepFunctions {
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly aborts = new Map<string, () => void>();
  private readonly machines = new Map<
    string,
    {
      machine: InstanceType<typeof StateMachine>;
      handlers: Record<string, (i: Json) => Promise<Json>>;
      retries: Record<string, number>;
    }
  >();
  private readonly settled = new Set<Promise<void>>();
  private server?: Server;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    for (const { arn, definition } of options.stateMachines) {
      const handlers: Record<string, (input: Json) => Promise<Json>> = {};
      const retries: Record<string, number> = {};
      for (const { name, resource } of taskStates(definition)) {
        const handler = options.resolveTask(resource);
        if (!handler) throw new Error(`No local handler for ${resource} (state ${name})`);
        handlers[name] = handler;
      }
      if (options.retryIntervalMs !== undefined) {
        for (const [name] of allStates(definition)) retries[name] = options.retryIntervalMs;
      }
      const machine = new StateMachine(definition as StateMachineDefinition, {
        validationOptions: { checkArn: true, checkPaths: true },
      });
      this.machines.set(arn, { machine, handlers, retries });
    }
    if (options.persistDir) this.load(options.persistDir);
  }

  /** Executions still running. */
  get running(): number {
    return [...this.executions.values()].filter((e) => e.status === 'RUNNING').length;
  }

  startExecution(request: { stateMachineArn: string; name?: string; input?: string }) {
    const entry = this.machines.get(request.stateMachineArn);
    if (!entry) throw new ApiError('StateMachineDoesNotExist', `${request.stateMachineArn}`);
    const name = request.name ?? randomUUID();
    const executionArn = `${request.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === (request.input ?? '{}')) {
        return { executionArn, startDate: seconds(existing.startDate) };
      }
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const input = request.input ?? '{}';
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: request.stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      input,
      history: [],
    };
    this.executions.set(executionArn, record);
    this.persist(record);
    const execution = entry.machine.run(JSON.parse(input), {
      overrides: {
        taskResourceLocalHandlers: entry.handlers,
        retryIntervalOverrides: entry.retries,
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          StartTime: new Date(record.startDate).toISOString(),
          Input: JSON.parse(input),
          RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`,
        },
        StateMachine: {
          Id: request.stateMachineArn,
          Name: request.stateMachineArn.split(':').pop(),
        },
      },
    });
    this.aborts.set(executionArn, execution.abort);
    const done = this.follow(record, execution).finally(() => {
      this.aborts.delete(executionArn);
      this.settled.delete(done);
    });
    this.settled.add(done);
    return { executionArn, startDate: seconds(record.startDate) };
  }

  describeExecution(request: { executionArn: string }) {
    const { history, ...record } = this.find(request.executionArn);
    return {
      ...record,
      startDate: seconds(record.startDate),
      stopDate: record.stopDate === undefined ? undefined : seconds(record.stopDate),
    };
  }

  listExecutions(request: {
    stateMachineArn: string;
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  }) {
    const all = [...this.executions.values()]
      .filter((e) => e.stateMachineArn === request.stateMachineArn)
      .filter((e) => !request.statusFilter || e.status === request.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    const start = Number(request.nextToken ?? 0);
    const size = request.maxResults || 100;
    const page = all.slice(start, start + size);
    return {
      executions: page.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: seconds(e.startDate),
        stopDate: e.stopDate === undefined ? undefined : seconds(e.stopDate),
      })),
      nextToken: start + size < all.length ? String(start + size) : undefined,
    };
  }

  getExecutionHistory(request: { executionArn: string; reverseOrder?: boolean }) {
    const events = [...this.find(request.executionArn).history];
    return {
      events: (request.reverseOrder ? events.reverse() : events).map((e) => ({
        ...e,
        timestamp: seconds(e.timestamp),
      })),
    };
  }

  stopExecution(request: { executionArn: string; error?: string; cause?: string }) {
    const record = this.find(request.executionArn);
    if (record.status === 'RUNNING') {
      record.error = request.error;
      record.cause = request.cause;
      this.aborts.get(request.executionArn)?.();
    }
    return { stopDate: seconds(Date.now()) };
  }

  /** Serves the API on 127.0.0.1 for `AWS_ENDPOINT_URL_SFN`. */
  async listen(): Promise<string> {
    const server = createServer((request, response) => void this.serve(request, response));
    this.server = server;
    return listenOnLoopback(server);
  }

  /** Aborts what is still running and waits for it to settle. */
  async close(): Promise<void> {
    for (const abort of this.aborts.values()) abort();
    await Promise.allSettled([...this.settled]);
    if (this.server) await closeServer(this.server);
  }

  private find(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record)
      throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  private async follow(
    record: ExecutionRecord,
    execution: { result: Promise<Json>; eventLogs: AsyncGenerator<Json> },
  ): Promise<void> {
    const logging = (async () => {
      for await (const event of execution.eventLogs) {
        const id = record.history.length + 1;
        record.history.push({ id, previousEventId: id - 1, ...historyEvent(event) });
      }
    })();
    try {
      record.output = JSON.stringify(await execution.result);
      record.status = 'SUCCEEDED';
    } catch (error) {
      const failure = error as Error & { name: string };
      record.status =
        failure.name === 'ExecutionAbortedError'
          ? 'ABORTED'
          : failure.name === 'ExecutionTimeoutError'
            ? 'TIMED_OUT'
            : 'FAILED';
      record.error ??= failure.name;
      record.cause ??= failure.message;
    }
    record.stopDate = Date.now();
    await logging.catch(() => {});
    this.persist(record);
  }

  private persist(record: ExecutionRecord): void {
    const dir = this.options.persistDir;
    if (dir) writeFileSync(join(dir, `${record.name}.json`), JSON.stringify(record));
  }

  private load(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ExecutionRecord;
      if (record.status === 'RUNNING') {
        // The process that ran it is gone: on AWS it would have gone on, here it cannot.
        record.status = 'ABORTED';
        record.cause = 'The local runtime stopped while this execution ran';
        record.stopDate ??= Date.now();
      }
      this.executions.set(record.executionArn, record);
    }
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(body));
    };
    const operations: Record<string, (body: Json) => unknown> = {
      StartExecution: (body) => this.startExecution(body),
      DescribeExecution: (body) => this.describeExecution(body),
      ListExecutions: (body) => this.listExecutions(body),
      GetExecutionHistory: (body) => this.getExecutionHistory(body),
      StopExecution: (body) => this.stopExecution(body),
    };
    const run = operations[operation];
    try {
      if (!run)
        throw new ApiError('UnknownOperationException', `${operation} is not supported locally`);
      send(200, run(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')));
    } catch (error) {
      const failure = error as Error;
      send(400, {
        __type: failure instanceof ApiError ? failure.name : 'InternalFailure',
        message: failure.message,
      });
    }
  }
}

/**
 * Maps the interpreter's event log to GetExecutionHistory's shapes, so the SDK, which drops
 * members it does not know, delivers the details that the console and the CLI read.
 */
function historyEvent(event: Json): { type: string; timestamp: number } & Record<string, Json> {
  const { timestamp } = event as { timestamp: number };
  const text = (value: Json) => (value === undefined ? undefined : JSON.stringify(value));
  const failure = { error: event.Error, cause: text(event.Cause) };
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
        stateEnteredEventDetails: { name: event.state.name, input: text(event.state.input) },
      };
    case 'StateExited':
      return {
        type: `${event.state.type}StateExited`,
        timestamp,
        stateExitedEventDetails: { name: event.state.name, output: text(event.state.output) },
      };
    case 'StateFailed':
    case 'StateRetried':
    case 'StateCaught':
      return {
        type: event.state.type === 'Task' ? 'TaskFailed' : `${event.state.type}StateFailed`,
        timestamp,
        taskFailedEventDetails: { resource: event.state.name, ...failure },
      };
    default:
      return { type: event.type, timestamp };
  }
}
