import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { batchExecutionName, type ProcessBatchInput, scheduledBatchId } from '#commons/batch.ts';
import type { BatchSchedule } from '#commons/schedules.ts';
import { LOCAL_REGION } from '../emulators/endpoint.ts';
import type { PublishedMessage } from '../emulators/sns.ts';
import { localQueueUrl } from '../emulators/sqs-api.ts';
import { FaultLayer } from '../faults/fault-layer.ts';
import { generateApiToken, startHttpApiGateway } from '../gateway/http-api-gateway.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import { LocalStack } from '../stack/stack.ts';
import { type EdgeRouter, type ServiceRoutes, startEdgeRouter } from './edge-router.ts';
import {
  type DataDirLock,
  type EndpointInfo,
  lockDataDir,
  removeEndpointFile,
  writeEndpointFile,
} from './endpoint-file.ts';

/** The default port of `sluice up`: next to LocalStack's 4566 family, and not any of them. */
export const DEFAULT_PORT = 4599;

export interface ServiceOptions {
  /** Where everything persists; locked for as long as the service runs. */
  readonly dataDir: string;
  /**
   * Port on 127.0.0.1; 0 picks a free one.
   * @default 4599
   */
  readonly port?: number;
  /**
   * Milliseconds between ASL retries instead of the real backoff (tests).
   * @default - the ASL's own backoff
   */
  readonly retryIntervalMs?: number;
  /**
   * A fault rules file (`--faults`); rules can also be set later at `/_sluice/faults`.
   * @default - `$SLUICE_FAULTS`, else no faults
   */
  readonly faults?: string;
  /**
   * A batch schedules declaration (`schedules.json`) whose schedules the service fires; a file
   * that does not exist declares none.
   * @default - no scheduler: `sluice run` fires no schedules
   */
  readonly schedules?: string;
  /** Called with each message the functions publish to the notice topic. */
  readonly onNotice?: (message: PublishedMessage) => void;
  /**
   * The console's port on 127.0.0.1 (0 picks a free one), or null for no console.
   * @default - the endpoint's port + 1, or a free one when that is 0
   */
  readonly consolePort?: number | null;
  /**
   * The HTTP API's port on 127.0.0.1 (0 picks a free one), or null for no API.
   * @default - the endpoint's port + 2, or a free one when that is 0
   */
  readonly apiPort?: number | null;
  /**
   * The bearer token the HTTP API takes.
   * @default - a random one, written to endpoint.json as `apiToken`
   */
  readonly apiToken?: string;
}

/**
 * How often `sluice up` runs CheckExpectations, as Scheduler does every 15 minutes on AWS.
 * `$SLUICE_EXPECTATIONS_INTERVAL_MS` changes it.
 */
const EXPECTATION_CHECK_MS = 60_000;

/**
 * Runs CheckExpectations now and then every interval, with the time as Scheduler passes it; one
 * run at a time, and a failed one is logged and tried at the next.
 */
function checkExpectationsEvery(stack: LocalStack): { stop(): Promise<void> } {
  const intervalMs = Number(process.env.SLUICE_EXPECTATIONS_INTERVAL_MS) || EXPECTATION_CHECK_MS;
  let running: Promise<void> = Promise.resolve();
  const check = () => {
    running = running.then(() =>
      stack.runtime.invoke('CheckExpectations', { time: new Date().toISOString() }).then(
        () => undefined,
        (error: Error) => {
          process.stderr.write(`sluice: checking the expectations failed: ${error.message}\n`);
        },
      ),
    );
  };
  check();
  const timer = setInterval(check, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Where the scheduler remembers each schedule's last run, under the data dir. */
export const SCHEDULER_STATE = join('schedules', 'state.json');

/** Where the fault layer reports what it injected, when the service stops. */
export const FAULTS_REPORT = 'faults-report.json';

/** A running `sluice up`. */
export interface SluiceService {
  readonly endpoint: string;
  /** What endpoint.json holds. */
  readonly info: EndpointInfo;
  readonly stack: LocalStack;
  readonly faults: FaultLayer;
  /** The schedules it fires, in declaration order. */
  readonly schedules: readonly BatchSchedule[];
  /** Stops the endpoint and the stack, removes endpoint.json, and releases the lock (idempotent). */
  close(): Promise<void>;
}

const VERSION: string = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'),
).version;

/** LocalStack's endpoint names → the edge's service names. */
const routesOf = (stack: LocalStack): ServiceRoutes => ({
  s3: stack.endpoints.s3,
  dynamodb: stack.endpoints.dynamodb,
  kinesis: stack.endpoints.kinesis,
  stepfunctions: stack.endpoints.sfn,
  sqs: stack.endpoints.sqs,
  sns: stack.endpoints.sns,
});

/**
 * Starts the local stack as a service: takes the data dir's lock, binds the port (so a port in
 * use fails before any emulator opens the data), starts the stack, routes the edge to it, and
 * writes endpoint.json. A failed start undoes whatever it had done.
 * @throws DataDirInUse when another live sluice holds the data dir.
 * @throws PortInUse when the port is taken.
 * @throws InvalidSchedules when the schedules declaration is bad, before anything starts.
 */
export async function startService(options: ServiceOptions): Promise<SluiceService> {
  const dataDir = resolve(options.dataDir);
  const undo: (() => Promise<void> | void)[] = [];
  let info: EndpointInfo | undefined;
  const rulesFile = options.faults ?? process.env.SLUICE_FAULTS;
  // A bad rules file fails before anything starts. The validator loads only when rules come.
  const rules = () => import('../faults/rules.ts');
  const faults = new FaultLayer(rulesFile ? (await rules()).readFaultRules(rulesFile) : []);
  let faultsArmed = faults.rules.length > 0;
  // The declaration's validator and cron engine (zod, croner) load only when there is one.
  const { schedules, expectations } =
    options.schedules === undefined
      ? { schedules: [], expectations: [] }
      : (await import('#commons/schedules.ts')).readDeclaration(options.schedules);
  try {
    const lock: DataDirLock = lockDataDir(dataDir);
    undo.push(() => lock.release());

    let routesReady!: (routes: ServiceRoutes) => void;
    let routesFailed!: (error: unknown) => void;
    const routes = new Promise<ServiceRoutes>((ready, failed) => {
      routesReady = ready;
      routesFailed = failed;
    });
    const router: EdgeRouter = await startEdgeRouter({
      port: options.port ?? DEFAULT_PORT,
      routes,
      controls: {
        version: VERSION,
        endpointInfo: () => info,
        faults: {
          rules: () => faults.rules,
          replace: async (body) => {
            faults.setRules((await rules()).parseFaultRules(body, 'POST /_sluice/faults'));
            faultsArmed ||= faults.rules.length > 0;
            return faults.rules;
          },
        },
      },
    });
    undo.push(() => router.close());

    let stack: LocalStack;
    try {
      stack = await LocalStack.start({
        dataDir,
        retryIntervalMs: options.retryIntervalMs,
        faults,
        onNotice: (message) => options.onNotice?.(message),
        expectations,
      });
    } catch (error) {
      routesFailed(error);
      throw error;
    }
    undo.push(() => stack.close());
    routesReady(routesOf(stack));

    const consolePort =
      options.consolePort === undefined
        ? options.port === 0
          ? 0
          : router.port + 1
        : options.consolePort;
    const consoleServer =
      consolePort === null ? undefined : await startLocalConsole(stack, consolePort);
    undo.push(() => consoleServer?.close());

    const apiPort =
      options.apiPort === undefined ? (options.port === 0 ? 0 : router.port + 2) : options.apiPort;
    const apiToken = options.apiToken ?? generateApiToken();
    const api =
      apiPort === null
        ? undefined
        : await startHttpApiGateway({
            port: apiPort,
            token: apiToken,
            invoke: (event) => stack.runtime.invoke('HttpApi', event),
          });
    undo.push(() => api?.close());

    info = {
      endpoint: router.endpoint,
      region: LOCAL_REGION,
      bucket: stack.names.bucketName,
      table: stack.names.tableName,
      stream: stack.names.streamName,
      stateMachines: {
        ProcessFile: stack.names.stateMachineArn,
        ProcessBatch: stack.names.batchStateMachineArn,
      },
      queues: {
        uploads: localQueueUrl(router.endpoint, stack.names.queueName),
        deadLetters: localQueueUrl(router.endpoint, stack.names.deadLetterQueueName),
      },
      noticeTopic: stack.names.noticeTopicArn,
      ...(consoleServer ? { console: consoleServer.url } : {}),
      ...(api ? { api: api.url, apiToken } : {}),
      pid: process.pid,
      logDir: stack.logDir,
      dataDir,
      startedAt: new Date().toISOString(),
      version: VERSION,
    };
    writeEndpointFile(dataDir, info);
    undo.push(() => removeEndpointFile(dataDir));

    const scheduler =
      schedules.length === 0
        ? undefined
        : new (await import('../scheduler/scheduler.ts')).LocalScheduler({
            schedules,
            stateFile: join(dataDir, SCHEDULER_STATE),
            fire: (schedule, scheduledTime) => startScheduledBatch(stack, schedule, scheduledTime),
          });
    undo.push(() => scheduler?.close());
    await scheduler?.start();
    const checks = expectations.length === 0 ? undefined : checkExpectationsEvery(stack);
    undo.push(() => checks?.stop());

    const ready = info;
    let closing: Promise<void> | undefined;
    return {
      endpoint: router.endpoint,
      info: ready,
      stack,
      faults,
      schedules,
      close() {
        // The scheduler first, so no batch starts on a stack that is going; the edge next, so
        // nothing new arrives; then endpoint.json, so no reader is sent to a stack that is going;
        // the lock last, so no other sluice opens the data dir meanwhile.
        closing ??= (async () => {
          const errors: unknown[] = [];
          const step = async (run: () => Promise<void> | void) => {
            try {
              await run();
            } catch (error) {
              errors.push(error);
            }
          };
          await step(() => scheduler?.close());
          await step(() => checks?.stop());
          await step(() => consoleServer?.close());
          await step(() => api?.close());
          await step(() => router.close());
          await step(() => removeEndpointFile(dataDir));
          await step(() => stack.close());
          if (faultsArmed) {
            await step(() => {
              process.stderr.write(`${faults.writeReport(join(dataDir, FAULTS_REPORT))}\n`);
            });
          }
          await step(() => lock.release());
          if (errors.length > 0) throw errors[0];
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch {
        // Undo what can be undone; the first error is the one to report.
      }
    }
    throw error;
  }
}

/** The console over the stack's own clients; its modules load only when one is asked for. */
async function startLocalConsole(stack: LocalStack, port: number) {
  const [{ startConsole }, { localFeed }, { targetFromLocalStack }] = await Promise.all([
    import('../../console/server/console-server.ts'),
    import('../../console/server/local-feed.ts'),
    import('../../cli/ops/target.ts'),
  ]);
  return startConsole({ port, target: targetFromLocalStack(stack), feed: localFeed(stack) });
}

/**
 * What EventBridge Scheduler does on AWS: starts ProcessBatch for one slot. The execution is
 * named after the slot's batch id, so a slot fired twice (a restart while the first start was
 * under way) is one batch: the second start meets `ExecutionAlreadyExists`, which is success.
 */
async function startScheduledBatch(
  stack: LocalStack,
  schedule: BatchSchedule,
  scheduledTime: Date,
): Promise<void> {
  const batchId = scheduledBatchId(schedule.name, scheduledTime);
  const input: ProcessBatchInput = {
    batchId,
    prefix: schedule.prefix,
    mode: schedule.mode,
    schedule: schedule.name,
    maxConcurrency: schedule.maxConcurrency,
  };
  try {
    await stack.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: stack.names.batchStateMachineArn,
        name: batchExecutionName(batchId),
        input: JSON.stringify(input),
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
  }
}
